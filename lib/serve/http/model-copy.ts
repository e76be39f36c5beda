/**
 * One copy of the served model — a {@link jobPredictor} over the config and checkpoint — as
 * the server's lanes use it, on the main thread or in a worker: `run` scores checked request
 * objects in one forward pass (the job predictor's collate parses them), `update` applies a
 * serving update's bytes, and `step` is the training step of the weights it serves.
 */
import { ResolvedConfig } from '../../train/config';
import { AppliedUpdate } from '../update';
import { JobPredictor, jobPredictor } from '../job-predictor';
import { Prediction } from '../predictor';

export class ModelCopy {
  private readonly jp: JobPredictor;
  private current: number;

  constructor(config: ResolvedConfig, checkpoint: string | null, maxBatch: number) {
    this.jp = jobPredictor(config, checkpoint, { maxBatch });
    // loadJobCheckpoint sets the trainer's step to the checkpoint's; a fresh model is at step 0.
    this.current = this.jp.parts.trainer.step;
  }

  /** The training step of the weights served (the checkpoint's, then each applied update's). */
  get step(): number {
    return this.current;
  }

  /** Scores objects already checked against the schema, in one forward pass (up to maxBatch). */
  run(requests: Record<string, unknown>[]): Prediction[] {
    return this.jp.predictor.predict(requests);
  }

  /** Applies a serving update; a corrupt or mismatched one throws and changes nothing. */
  update(bytes: Uint8Array): AppliedUpdate {
    const applied = this.jp.update(bytes);
    this.current = applied.step;
    return applied;
  }

  dispose(): Promise<void> {
    return this.jp.dispose();
  }
}
