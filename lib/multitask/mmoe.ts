import { noGrad } from '../autograd';
import { Activation, ACTIVATIONS } from '../ops/activation';
import { addInPlace, affine, clamp } from '../ops/elementwise';
import { concat, transpose } from '../ops/layout';
import { expertLinear, GATE_DROPOUT_MODES, GateDropoutMode, moeCombine, moeGate } from '../ops/moe';
import { max, sum } from '../ops/reduce';
import { Linear } from '../nn/linear';
import { MLP } from '../nn/mlp';
import { Module } from '../nn/module';
import { Rng } from '../random';
import { keep } from '../scope';
import { Tensor } from '../tensor';
import { checkBoolean, checkInt, checkOneOf, checkOptions, checkRange, checkWidths } from '../validate';
import { checkRows } from '../personalize/field-input';
import { multiTaskLoss, MultiTaskLossOptions } from '../models/multi-task-loss';
import { Experts } from './experts';

/** Options of {@link MMoE}. */
export interface MMoEOptions {
  /** Number of experts E (default 8). */
  experts?: number;
  /** Hidden widths of every expert (default [64]); the last is the width the towers see. */
  expertHidden?: number[];
  /** Number of tasks T (default 2). */
  tasks?: number;
  /** Hidden widths of each task's tower before its logit (default [32]; [] = a linear logit). */
  tower?: number[];
  /** Probability of dropping each expert's gate while training (default 0; YouTube uses 0.1). */
  gateDropout?: number;
  /** One dropout mask per sample ('sample', default) or per task for the whole batch ('batch'). */
  gateDropoutMode?: GateDropoutMode;
  /** Activation of the experts and towers (default 'relu'). */
  activation?: Activation;
  /** Dropout on the experts' hidden units while training (default 0). */
  expertDropout?: number;
  /** A gate weight below this counts as near zero in `utilization()` (default 0.01). */
  nearZero?: number;
  /** Gather the gate statistics `utilization()` reports on every forward pass (default true; false saves their small ops a step). */
  trackUtilization?: boolean;
  /** Generator for the initial weights (default: the global one). */
  rng?: Rng;
}

/** One task's gate statistics over the samples seen since the last reset. */
export interface TaskUtilization {
  /** The task's index. */
  task: number;
  /** Mean gate weight of each expert (sums to 1 over the experts). */
  meanGate: number[];
  /** Share of experts whose mean gate weight is below `nearZero`: experts this task ignores. */
  nearZeroExperts: number;
  /** Share of (sample, expert) gate weights below `nearZero`. */
  nearZeroGates: number;
  /** Mean over samples of the largest gate weight (1/E: uniform mixing; 1: one expert per sample). */
  meanMaxGate: number;
  /** Samples counted. */
  samples: number;
}

/** Running sums on the device, outside the module's parameters and buffers. */
interface GateStats {
  gateSum: Tensor | null; // (T, E)
  maxSum: Tensor | null; // (T)
  nearZeroSum: Tensor | null; // (T)
  samples: number;
}

/**
 * MMoE (Ma et al., KDD 2018) with YouTube's gate dropout (Zhao et al., RecSys 2019): E
 * experts shared by T tasks, each task mixing them with its own softmax gate:
 *   e_i = expert_i(x)                       one batched GEMM launch per expert layer
 *   g_t = softmax(W_t·x + b_t)              all tasks' gate logits in one GEMM (B, T·E)
 *   r_t = C · Σ_i g_t,i · e_i               one fused pass for every task (moeCombine)
 *   logit_t = tower_t(r_t)
 * Gate dropout (training only): each expert's gate is dropped with probability p and the
 * softmax renormalized over the survivors (never all dropped), with one mask per sample or
 * one per task for the whole batch. It keeps a gate from collapsing onto a few experts
 * ("gate polarization"); `utilization()` reports the gates' statistics per task, accumulated
 * over the forward passes since `resetUtilization()`.
 */
export class MMoE extends Module {
  /** The E experts. */
  experts: Experts;
  /** Every task's gate logits at once: inFeatures → T·E. */
  gate: Linear;
  /** One tower per task: the expert width → 1 logit. */
  towers: MLP[];
  /** Width of the input x. */
  readonly inFeatures: number;
  /** Number of experts E. */
  readonly numExperts: number;
  /** Number of tasks T. */
  readonly tasks: number;
  /** Gate-dropout probability while training (0: none). */
  readonly gateDropout: number;
  /** One gate-dropout mask per sample or per task for the whole batch. */
  readonly gateDropoutMode: GateDropoutMode;
  /** A gate weight below this counts as near zero in `utilization()`. */
  readonly nearZero: number;
  /** Whether forward passes gather the gate statistics `utilization()` reports. */
  readonly trackUtilization: boolean;
  /** C, the scale of the combination (1 for MMoE). */
  protected combineScale = 1;
  private stats: GateStats = { gateSum: null, maxSum: null, nearZeroSum: null, samples: 0 };

  constructor(inFeatures: number, options: MMoEOptions = {}) {
    super();
    const o = checkOptions(options, 'options');
    this.inFeatures = checkInt(inFeatures, 'inFeatures', 1);
    this.numExperts = checkInt(o.experts ?? 8, 'options.experts', 1);
    this.tasks = checkInt(o.tasks ?? 2, 'options.tasks', 1);
    const tower = checkWidths(o.tower ?? [32], 'options.tower', true);
    this.gateDropout = checkRange(o.gateDropout ?? 0, 'options.gateDropout', 0, 0.99);
    this.gateDropoutMode = checkOneOf(o.gateDropoutMode ?? 'sample', 'options.gateDropoutMode', GATE_DROPOUT_MODES);
    const act = checkOneOf(o.activation ?? 'relu', 'options.activation', ACTIVATIONS);
    this.nearZero = checkRange(o.nearZero ?? 0.01, 'options.nearZero', 0, 1);
    this.trackUtilization = checkBoolean(o.trackUtilization ?? true, 'options.trackUtilization');
    this.experts = new Experts(this.inFeatures, {
      experts: this.numExperts,
      hidden: o.expertHidden ?? [64],
      activation: act,
      dropout: o.expertDropout,
      rng: o.rng,
    });
    this.gate = new Linear(this.inFeatures, this.tasks * this.numExperts, { rng: o.rng });
    this.towers = Array.from({ length: this.tasks }, () => new MLP(this.experts.outFeatures, { hidden: tower, outFeatures: 1, activation: act, rng: o.rng }));
  }

  /** x (B, in) → the task gates (B, T, E), gate dropout applied while training. */
  taskGates(x: Tensor): Tensor {
    checkRows(x, this.inFeatures, 'x');
    const logits = this.gate.forward(x).reshape(x.shape[0], this.tasks, this.numExperts);
    const p = this.training ? this.gateDropout : 0;
    const gates = moeGate(logits, { p, mode: this.gateDropoutMode });
    if (this.trackUtilization) this.record(gates);
    return gates;
  }

  /** The personal gate (B, E) multiplied into every task's gate, or null (plain MMoE). */
  protected personalGate(_pc: Tensor | undefined): Tensor | null {
    return null;
  }

  /** x (B, in) → each task's mixture of the experts (T, B, H). */
  representations(x: Tensor, pc?: Tensor): Tensor {
    const { y, batchMajor } = this.experts.forwardAnyLayout(x);
    return moeCombine(y, this.taskGates(x), { personalGate: this.personalGate(pc), scale: this.combineScale, batchMajor });
  }

  /** x (B, in) → one output per task (B, T): a logit, or a value for a regression task. */
  forward(x: Tensor, pc?: Tensor): Tensor {
    const r = this.representations(x, pc);
    const b = x.shape[0];
    const h = r.shape[2];
    if (this.towers.every((t) => t.drops.length === 0 && t.layers.every((l) => l.bias !== null))) {
      // Layer l of every tower as one batched GEMM over the task-major r (T, B, H): the towers'
      // weights stacked for the step (their gradients flow back to each tower's own).
      let y = r;
      for (let l = 0; l < this.towers[0].layers.length; ++l) {
        const layers = this.towers.map((t) => t.layers[l]);
        const [out, inF] = layers[0].weight.shape;
        const w = concat(layers.map((L) => L.weight.reshape(1, out, inF)), 0);
        const bias = concat(layers.map((L) => (L.bias as Tensor).reshape(1, out)), 0);
        y = expertLinear(y, w, bias, layers[0].activation);
      }
      return transpose(y.reshape(this.tasks, b), 0, 1); // (T, B, 1) → (B, T)
    }
    return concat(this.towers.map((tower, t) => tower.forward(r.narrow(t, 1).reshape(b, h))), 1);
  }

  /**
   * Per-task loss of forward()'s outputs (B, T): BCE-with-logits for 'bce' tasks, squared
   * error for 'mse' (regression) tasks, per-task weights and a (B, T) label mask
   * (multiTaskLoss).
   */
  loss(outputs: Tensor, labels: Tensor, options: MultiTaskLossOptions = {}): Tensor {
    return multiTaskLoss(outputs, labels, options);
  }

  private record(gates: Tensor): void {
    noGrad(() => {
      const s = this.stats;
      const add = (old: Tensor | null, t: Tensor): Tensor => {
        if (old === null) return keep(t);
        addInPlace(old, t);
        t.dispose();
        return old;
      };
      s.gateSum = add(s.gateSum, sum(gates, 0));
      s.maxSum = add(s.maxSum, sum(max(gates, 2), 0));
      // 1 where g < nearZero (a ramp 1e-7 wide just below the threshold): no comparison op needed
      const near = clamp(affine(gates, -1e7, 1e7 * this.nearZero), 0, 1);
      s.nearZeroSum = add(s.nearZeroSum, sum(sum(near, 2), 0));
      s.samples += gates.shape[0];
    });
  }

  /** Forgets the gate statistics gathered so far. */
  resetUtilization(): void {
    for (const t of [this.stats.gateSum, this.stats.maxSum, this.stats.nearZeroSum]) t?.dispose();
    this.stats = { gateSum: null, maxSum: null, nearZeroSum: null, samples: 0 };
  }

  /** Per task: mean gate weight per expert and how many experts / gates are near zero. */
  utilization(): TaskUtilization[] {
    const s = this.stats;
    const E = this.numExperts;
    const n = s.samples;
    const gateSum = s.gateSum ? (s.gateSum.toArraySync() as Float32Array) : new Float32Array(this.tasks * E);
    const maxSum = s.maxSum ? (s.maxSum.toArraySync() as Float32Array) : new Float32Array(this.tasks);
    const nearSum = s.nearZeroSum ? (s.nearZeroSum.toArraySync() as Float32Array) : new Float32Array(this.tasks);
    return Array.from({ length: this.tasks }, (_, t) => {
      const meanGate = Array.from(gateSum.subarray(t * E, (t + 1) * E), (v) => (n ? v / n : 0));
      return {
        task: t,
        meanGate,
        nearZeroExperts: n ? meanGate.filter((g) => g < this.nearZero).length / E : 0,
        nearZeroGates: n ? nearSum[t] / (n * E) : 0,
        meanMaxGate: n ? maxSum[t] / n : 0,
        samples: n,
      };
    });
  }
}
