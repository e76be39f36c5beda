/**
 * The Gloo backend: a full mesh of TCP pairs (gloo::transport::tcp), connected by Gloo's own
 * rendezvous through our store; collectives run on the addon's communication thread.
 */
import { DistributedError } from '../errors';
import { Backend, BackendOptions, registerBackend } from './backend';
import { glooAddon } from './gloo';

async function connectGloo(o: BackendOptions): Promise<Backend> {
  const addon = glooAddon();
  const group = new addon.ProcessGroup({ rank: o.rank, size: o.worldSize, timeoutMs: o.timeoutMs, hostname: o.hostname, iface: o.iface });
  // Gloo's rendezvous keys are its ranks' numbers: keep them apart from ours.
  const prefix = 'gloo/';
  const work = group.connect(async (op, keys, value, timeoutMs) => {
    const k = keys.map((key) => prefix + key);
    if (op === 'set') {
      await o.store.set(k[0], value ?? new Uint8Array(0));
      return null;
    }
    if (op === 'get') return Buffer.from(await o.store.get(k[0], timeoutMs));
    await o.store.wait(k, timeoutMs);
    return null;
  });
  try {
    await work.promise();
  } catch (e) {
    group.close();
    throw new DistributedError(`rank ${o.rank}: the Gloo rendezvous of ${o.worldSize} ranks failed: ${(e as Error).message}`);
  }
  return {
    name: 'gloo',
    allReduce: (a, op) => group.allReduce(a, op),
    broadcast: (a, root) => group.broadcast(a, root),
    allGather: (i, out, counts) => group.allGather(i, out, counts),
    allToAll: (i, s, out, r) => group.allToAll(i, s, out, r),
    barrier: () => group.barrier(),
    close: () => group.close(),
  };
}

registerBackend('gloo', connectGloo);
