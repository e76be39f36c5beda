/** `gatewise info`: the version, the native addon's backend and devices, as text or JSON. */
import { backend } from '../backend';

export interface InfoReport {
  version: string;
  node: string;
  backend: string;
  device: string;
  cudaBuilt: boolean;
  cudaDevices: number;
  cpuIsa: string;
  threads: number;
  computeCapability?: string;
  memoryGiB?: number;
  cudaUnavailable?: string;
}

export function infoReport(version: string): InfoReport {
  const b = backend();
  const r: InfoReport = {
    version,
    node: process.version,
    backend: b.kind,
    device: b.deviceName,
    cudaBuilt: b.cudaBuilt,
    cudaDevices: b.cudaDeviceCount,
    cpuIsa: b.cpuIsa,
    threads: b.numThreads,
  };
  if (b.computeCapability !== undefined) r.computeCapability = String(b.computeCapability);
  if (b.totalMemory !== undefined) r.memoryGiB = Math.round((b.totalMemory / 2 ** 30) * 10) / 10;
  if (b.cudaUnavailableReason) r.cudaUnavailable = b.cudaUnavailableReason;
  return r;
}

export function formatInfo(r: InfoReport): string {
  const rows: [string, string][] = [
    ['gatewise', r.version],
    ['node', r.node],
    ['backend', `${r.backend} — ${r.device}`],
    ['CPU', `${r.cpuIsa}, ${r.threads} threads`],
    ['CUDA', r.cudaBuilt ? `built; ${r.cudaDevices} device(s)${r.computeCapability ? `, sm ${r.computeCapability}` : ''}${r.memoryGiB ? `, ${r.memoryGiB} GiB` : ''}` : 'not built (CPU-only addon)'],
  ];
  if (r.cudaUnavailable) rows.push(['', `no GPU in use: ${r.cudaUnavailable}`]);
  return rows.map(([k, v]) => `${k.padEnd(9)} ${v}`).join('\n');
}
