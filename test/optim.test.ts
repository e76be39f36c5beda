import { describe, expect, it } from 'vitest';
import { Adagrad, Adam, AdamW, ArgumentError, clipGradNorm, CosineAnnealingLR, LinearWarmup, OptimizerSet, Rng, SGD, StepLR, tensor, Tensor } from '../lib';

const rng = new Rng(11);
const randArray = (n: number) => Float64Array.from({ length: n }, () => rng.uniform() * 2 - 1);

/** A parameter with values p and gradient g, both exactly representable in float32. */
function param(p: Float64Array): Tensor {
  return tensor(Float32Array.from(p), { requiresGrad: true });
}
const f32 = (a: Float64Array) => Float64Array.from(Float32Array.from(a));

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol = 2e-6): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; ++i) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i])));
}

describe('optimizers against a float64 reference (PyTorch semantics)', () => {
  const n = 37;
  const steps = 4;
  const grads = Array.from({ length: steps }, () => f32(randArray(n)));

  function run(make: (p: Tensor) => { step(): void }): Float32Array {
    const p = param(f32(Float64Array.from({ length: n }, (_, i) => Math.sin(i))));
    const opt = make(p);
    for (const g of grads) {
      p.grad = tensor(Float32Array.from(g));
      opt.step();
    }
    return p.toArraySync() as Float32Array;
  }
  const p0 = () => f32(Float64Array.from({ length: n }, (_, i) => Math.sin(i)));

  it('SGD with momentum, dampening, weight decay and Nesterov', () => {
    for (const [momentum, dampening, nesterov, wd] of [[0, 0, false, 0], [0.9, 0.1, false, 0.01], [0.8, 0, true, 0.05]] as const) {
      const lr = 0.1;
      const p = p0();
      const buf = new Float64Array(n);
      grads.forEach((g0, t) => {
        for (let i = 0; i < n; ++i) {
          let g = g0[i] + wd * p[i];
          if (momentum > 0) {
            buf[i] = t === 0 ? g : momentum * buf[i] + (1 - dampening) * g;
            g = nesterov ? g + momentum * buf[i] : buf[i];
          }
          p[i] -= lr * g;
        }
      });
      expectClose(run((q) => new SGD([q], { lr, momentum, dampening, nesterov, weightDecay: wd })), p);
    }
  });

  it('Adam and AdamW', () => {
    for (const decoupled of [false, true]) {
      const lr = 0.01, b1 = 0.9, b2 = 0.99, eps = 1e-8, wd = 0.1;
      const p = p0();
      const m = new Float64Array(n), v = new Float64Array(n);
      grads.forEach((g0, k) => {
        const t = k + 1;
        for (let i = 0; i < n; ++i) {
          let g = g0[i];
          if (decoupled) p[i] *= 1 - lr * wd;
          else g += wd * p[i];
          m[i] = b1 * m[i] + (1 - b1) * g;
          v[i] = b2 * v[i] + (1 - b2) * g * g;
          p[i] -= (lr * (m[i] / (1 - b1 ** t))) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps);
        }
      });
      const Cls = decoupled ? AdamW : Adam;
      expectClose(run((q) => new Cls([q], { lr, beta1: b1, beta2: b2, eps, weightDecay: wd })), p, 1e-5);
    }
  });

  it('AdaGrad with lr decay and an initial accumulator', () => {
    const lr = 0.05, decay = 0.01, init = 0.1, eps = 1e-10;
    const p = p0();
    const acc = new Float64Array(n).fill(init);
    grads.forEach((g, k) => {
      const clr = lr / (1 + k * decay);
      for (let i = 0; i < n; ++i) {
        acc[i] += g[i] * g[i];
        p[i] -= (clr * g[i]) / (Math.sqrt(acc[i]) + eps);
      }
    });
    expectClose(run((q) => new Adagrad([q], { lr, lrDecay: decay, initialAccumulatorValue: init, eps })), p, 1e-5);
  });

  it('parameter groups keep their own learning rates; OptimizerSet steps both', () => {
    const a = param(new Float64Array([1, 1]));
    const b = param(new Float64Array([1, 1]));
    const c = param(new Float64Array([1, 1]));
    const sgd = new SGD([{ params: [a], lr: 0.5 }, { params: [b] }], { lr: 0.1 });
    const ada = new Adagrad([c], { lr: 0.05 });
    const both = new OptimizerSet([sgd, ada]);
    for (const p of [a, b, c]) p.grad = tensor([1, 2]);
    both.step();
    expectClose(a.values(), [0.5, 0]);
    expectClose(b.values(), [0.9, 0.8]);
    expectClose(c.values(), [0.95, 0.95]);
    both.zeroGrad();
    expect(a.grad).toBeNull();
  });

  it('skips parameters without a gradient and keeps their step counts apart', () => {
    const a = param(new Float64Array([0]));
    const b = param(new Float64Array([0]));
    const opt = new Adam([a, b], { lr: 0.1 });
    a.grad = tensor([1]);
    opt.step();
    b.grad = tensor([1]);
    a.grad = tensor([1]);
    opt.step();
    // Adam's first step moves by lr·sign(g) whatever the step count: b's first step is its own.
    expectClose(b.values(), [-0.1], 1e-5);
    expect(a.toArraySync()[0]).toBeCloseTo(-0.2, 4);
  });

  it('rejects bad hyper-parameters, naming them', () => {
    const p = param(new Float64Array([0]));
    expect(() => new SGD([p], { lr: -1 })).toThrow(ArgumentError);
    expect(() => new Adam([p], { beta1: 1.5 })).toThrow('paramGroups[0].beta1');
    expect(() => new SGD([], { lr: 0.1 })).toThrow('Expected a non-empty array of parameters or groups for params');
    expect(() => new SGD([tensor([1])], { lr: 0.1 })).toThrow('Expected a Tensor that requires grad for params[0].params[0]');
  });
});

describe('clipGradNorm', () => {
  it('scales gradients to the max norm and returns the norm before clipping', () => {
    const a = param(new Float64Array([0, 0]));
    const b = param(new Float64Array([0]));
    a.grad = tensor([3, 0]);
    b.grad = tensor([4]);
    const norm = clipGradNorm([a, b], 1);
    expect(norm.item()).toBeCloseTo(5, 5);
    expectClose(a.grad!.values(), [0.6, 0], 1e-5);
    expectClose(b.grad!.values(), [0.8], 1e-5);
    b.grad = tensor([0.1]);
    a.grad = tensor([0, 0]);
    expect(clipGradNorm([a, b], 1).item()).toBeCloseTo(0.1, 6);
    expectClose(b.grad!.values(), [0.1]);
  });

  it('leaves gradients alone when the norm is not finite', () => {
    const a = param(new Float64Array([0, 0]));
    a.grad = tensor(new Float32Array([NaN, 1]));
    expect(Number.isNaN(clipGradNorm([a], 1).item())).toBe(true);
    expect(a.grad!.toArraySync()[1]).toBe(1);
  });
});

describe('learning-rate schedules', () => {
  const opt = () => new SGD([param(new Float64Array([0]))], { lr: 1 });
  it('StepLR, cosine and warm-up follow their formulas', () => {
    const s = new StepLR(opt(), 2, 0.5);
    const lrs = [s.lrs()[0]];
    for (let i = 0; i < 4; ++i) {
      s.step();
      lrs.push(s.lrs()[0]);
    }
    expect(lrs).toEqual([1, 1, 0.5, 0.5, 0.25]);
    const c = new CosineAnnealingLR(opt(), 10, 0.1);
    for (let i = 0; i < 5; ++i) c.step();
    expect(c.lrs()[0]).toBeCloseTo(0.55, 10);
    const w = new LinearWarmup(opt(), 4, 0.2);
    expect(w.lrs()[0]).toBeCloseTo(0.2);
    w.step();
    w.step();
    expect(w.lrs()[0]).toBeCloseTo(0.6);
  });
});
