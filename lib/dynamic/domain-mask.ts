/**
 * The (B, D) float mask that routes each sample of a mixed-domain batch to its domain's
 * parameters (STAR's partitioned layers and normalization): built from domain ids, or a
 * mask the caller already built once for every layer of a model.
 */
import { Device } from '../backend';
import { DeviceError, ShapeError } from '../errors';
import { oneHot } from '../ops/one-hot';
import { checkTensor, Tensor } from '../tensor';
import { checkRows } from '../personalize/field-input';

/**
 * domain: ids (B) int32/int64 in [0, domains), or a float32 (B, domains) mask (one-hot rows;
 * soft rows mix the domains' parameters) → the float32 (B, domains) mask on `device`; with
 * `batch`, B must be it.
 */
export function domainMask(domain: Tensor, domains: number, device: Device, batch?: number, name = 'domain'): Tensor {
  checkTensor(domain, name);
  const mask = domain.dtype !== 'float32' ? oneHot(domain, domains, device, name) : domain;
  if (mask === domain) {
    if (domain.ndim !== 2 || domain.shape[1] !== domains) throw new ShapeError(`Expected ids [batch] or a mask [batch, ${domains}] for ${name} but received [${domain.shape}]`);
    if (domain.device !== device) throw new DeviceError(`Expected ${name} on ${device} but it is on ${domain.device}`);
  }
  if (batch !== undefined) checkRows(mask, domains, name, batch);
  return mask;
}
