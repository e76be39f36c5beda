/**
 * Demo: an MLP learns a non-linear function of 8 inputs, y = sin(2·x0)·x1 + x2² − |x3| + 0.5·x4·x5,
 * with Adam and gradient clipping, on the current backend. Prints the loss per epoch.
 *   npm run demo
 */
import { Adam, backend, clipGradNorm, manualSeed, MLP, mse, Rng, tensor, tidy } from '../lib';

const features = 8;
const samples = 8192;
const batch = 256;
const epochs = 12;

function target(x: Float32Array, i: number): number {
  const o = i * features;
  return Math.sin(2 * x[o]) * x[o + 1] + x[o + 2] ** 2 - Math.abs(x[o + 3]) + 0.5 * x[o + 4] * x[o + 5];
}

function main(): void {
  manualSeed(7);
  const rng = new Rng(42);
  const xs = new Float32Array(samples * features).map(() => rng.uniform() * 2 - 1);
  const ys = new Float32Array(samples).map((_, i) => target(xs, i));
  const b = backend();
  console.log(`gatewise demo on ${b.kind} (${b.deviceName}): MLP 8→64→64→1, ${samples} samples, batch ${batch}`);

  const model = new MLP(features, { hidden: [64, 64], outFeatures: 1, activation: 'relu' });
  const opt = new Adam(model.parameters(), { lr: 3e-3 });
  const x = tensor(xs, { shape: [samples, features] });
  const y = tensor(ys, { shape: [samples, 1] });
  const order = new Int32Array(samples).map((_, i) => i);

  for (let epoch = 1; epoch <= epochs; ++epoch) {
    rng.shuffle(order);
    let total = 0;
    const t0 = process.hrtime.bigint();
    for (let start = 0; start < samples; start += batch) {
      total += tidy(() => {
        const idx = tensor(order.slice(start, start + batch), { dtype: 'int32' });
        const xb = x.indexSelect(idx);
        const yb = y.indexSelect(idx);
        opt.zeroGrad();
        const loss = mse(model.forward(xb), yb);
        loss.backward();
        clipGradNorm(model.parameters(), 5);
        opt.step();
        return loss.item() * xb.shape[0];
      });
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(`epoch ${String(epoch).padStart(2)}  loss ${(total / samples).toFixed(5)}  (${ms.toFixed(0)} ms)`);
  }
}

main();
