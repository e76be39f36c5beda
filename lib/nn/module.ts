/**
 * Module: the base of every layer. Sub-modules and parameters are discovered from the
 * instance's own properties in declaration order — a `Tensor` that requires grad is a
 * parameter, any other `Tensor` a buffer (running statistics), a `Module` or an array of
 * modules a child — so `namedParameters()` yields dotted names like `towers.0.fc1.weight`.
 */
import { noGrad } from '../autograd';
import { Device } from '../backend';
import { ArgumentError, ShapeError } from '../errors';
import { keep } from '../scope';
import { Tensor } from '../tensor';
import { checkBoolean, checkOneOf, invalid } from '../validate';

/**
 * A module's parameters and buffers by dotted name (`towers.0.fc1.weight`), as `stateDict()`
 * returns and `loadStateDict()` takes.
 */
export type StateDict = Record<string, Tensor>;

/**
 * The base of every layer and model. Sub-modules and parameters are discovered from the instance's
 * own properties in declaration order: a `Tensor` that requires grad is a parameter, any other
 * `Tensor` a buffer (running statistics), a `Module` or an array of modules a child; so
 * `namedParameters()` yields dotted names like `towers.0.fc1.weight`. Subclasses implement
 * `forward`.
 */
export abstract class Module {
  /** Training mode (dropout active, statistics updated). */
  training = true;

  /**
   * Computes the module's output from its inputs (records gradients when grad mode is on and a
   * parameter requires them).
   */
  abstract forward(...inputs: unknown[]): unknown;

  /** [name, child] pairs of direct sub-modules. */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Module) out.push([key, value]);
      else if (Array.isArray(value)) {
        value.forEach((v, i) => {
          if (v instanceof Module) out.push([`${key}.${i}`, v]);
          // Nested arrays would hide their modules' parameters from optimizers and state dicts.
          else if (Array.isArray(v) && v.some((w) => w instanceof Module)) throw new ArgumentError(`${this.constructor.name}.${key}[${i}] is an array of modules: wrap it in a Module so its parameters are found`);
        });
      }
    }
    return out;
  }

  private ownTensors(): [string, Tensor][] {
    return Object.entries(this).filter((e): e is [string, Tensor] => e[1] instanceof Tensor);
  }

  /** Every parameter with its dotted name. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, t] of this.ownTensors()) if (t.requiresGrad) out.push([prefix + k, t]);
    for (const [k, m] of this.namedChildren()) out.push(...m.namedParameters(`${prefix}${k}.`));
    return out;
  }

  /** Every parameter (trainable tensor) of this module and its sub-modules, in `namedParameters()` order. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Non-trainable state (e.g. running means) with dotted names. */
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, t] of this.ownTensors()) if (!t.requiresGrad) out.push([prefix + k, t]);
    for (const [k, m] of this.namedChildren()) out.push(...m.namedBuffers(`${prefix}${k}.`));
    return out;
  }

  /** This module and every module inside it, each once (a module shared by two parents under its first path), with dotted paths ('' for this one). */
  namedModules(): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const walk = (m: Module, prefix: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([prefix, m]);
      for (const [k, c] of m.namedChildren()) walk(c, prefix ? `${prefix}.${k}` : k);
    };
    walk(this, '');
    return out;
  }

  /** Sets training mode here and in every sub-module. */
  train(mode = true): this {
    checkBoolean(mode, 'mode');
    this.training = mode;
    for (const [, m] of this.namedChildren()) m.train(mode);
    return this;
  }

  /** Sets evaluation mode here and in every sub-module (dropout off, statistics frozen): `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Clears the gradients of all parameters. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Parameters and buffers by dotted name (the live tensors; copy them to snapshot). */
  stateDict(): StateDict {
    return Object.fromEntries([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into this module's parameters and buffers (in place, so optimizers keep
   * their references). `strict` (default true) requires exactly the same names.
   */
  loadStateDict(state: StateDict, options: { strict?: boolean } = {}): void {
    if (state === null || typeof state !== 'object') throw invalid('a state dict object', 'state', state);
    const strict = options.strict ?? true;
    const own = this.stateDict();
    if (strict) {
      const missing = Object.keys(own).filter((k) => !(k in state));
      const unexpected = Object.keys(state).filter((k) => !(k in own));
      if (missing.length || unexpected.length) {
        throw new ArgumentError(`state dict does not match: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
      }
    }
    noGrad(() => {
      for (const [k, t] of Object.entries(own)) {
        const src = state[k];
        if (src === undefined) continue;
        if (!(src instanceof Tensor)) throw invalid('a Tensor', `state['${k}']`, src);
        if (src.shape.join() !== t.shape.join()) {
          throw new ShapeError(`Expected shape [${t.shape}] for state['${k}'] but received [${src.shape}]`);
        }
        t.copyFrom(src);
      }
    });
  }

  /** Moves every parameter and buffer to `device` (replacing the tensors). */
  to(device: Device): this {
    checkOneOf(device, 'device', ['cpu', 'cuda'] as const);
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Tensor && value.device !== device) {
        const moved = keep(noGrad(() => value.to(device)));
        if (value.requiresGrad) moved.requiresGrad_(true);
        (this as Record<string, unknown>)[key] = moved;
        value.dispose();
      }
    }
    for (const [, m] of this.namedChildren()) m.to(device);
    return this;
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }
}

/**
 * Runs fn with `modules` (and everything inside them) in eval mode, then puts every module
 * back in the mode it was in — each one, so a sub-module kept in eval mode stays there.
 */
export function inEvalMode<T>(modules: Module[], fn: () => T): T {
  const all = [...new Set(modules.flatMap((m) => m.namedModules().map(([, c]) => c)))];
  const modes = all.map((m) => m.training);
  try {
    modules.forEach((m) => m.eval());
    return fn();
  } finally {
    all.forEach((m, i) => (m.training = modes[i]));
  }
}
