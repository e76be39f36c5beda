import { describe, expect, it } from 'vitest';
import { ArgumentError, noGrad, isGradEnabled, ShapeError, tensor, sigmoid, mul, add, sum } from '../lib';

describe('autograd tape', () => {
  it('sums gradients over every path to a tensor (diamond graph)', () => {
    const x = tensor([0.5, -1.5, 2], { requiresGrad: true });
    const a = x.mul(x); // x²
    const b = x.mul(3); // 3x
    const y = a.add(b).add(a).sum(); // 2x² + 3x
    y.backward();
    const g = x.grad!.values();
    [0.5, -1.5, 2].forEach((v, i) => expect(g[i]).toBeCloseTo(4 * v + 3, 5));
  });

  it('accumulates into .grad across backward calls until cleared', () => {
    const w = tensor([2], { requiresGrad: true });
    w.mul(5).sum().backward();
    w.mul(5).sum().backward();
    expect(w.grad!.item()).toBeCloseTo(10);
  });

  it('detach stops the gradient', () => {
    const x = tensor([3], { requiresGrad: true });
    const y = mul(x, x.detach()).sum(); // d/dx = x (not 2x)
    y.backward();
    expect(x.grad!.item()).toBeCloseTo(3);
  });

  it('noGrad records nothing and restores the mode', () => {
    const x = tensor([1], { requiresGrad: true });
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return x.mul(2);
    });
    expect(isGradEnabled()).toBe(true);
    expect(y.requiresGrad).toBe(false);
    expect(() => y.sum().backward()).toThrow(ArgumentError);
  });

  it('needs an explicit gradient for non-scalar roots, of the right shape', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = sigmoid(x);
    expect(() => y.backward()).toThrow(ShapeError);
    expect(() => y.backward(tensor([1, 2, 3]))).toThrow('Expected shape [2] for gradient but received [3]');
    y.backward(tensor([1, 1]));
    const s = 1 / (1 + Math.exp(-1));
    expect(x.grad!.toArraySync()[0]).toBeCloseTo(s * (1 - s), 6);
  });

  it('frees the graph after backward unless retainGraph is set', () => {
    const x = tensor([1], { requiresGrad: true });
    const y = add(x, 1).mul(2).sum();
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(x.grad!.item()).toBeCloseTo(4);
    expect(y._gradFn).toBeNull();
  });

  it('handles deep graphs without overflowing the stack', () => {
    const x = tensor([1], { requiresGrad: true });
    let h = x;
    for (let i = 0; i < 5000; ++i) h = h.mul(1);
    sum(h).backward();
    expect(x.grad!.item()).toBe(1);
  });
});
