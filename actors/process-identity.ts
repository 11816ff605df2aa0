/** What a process says about itself on the bus: a random instance id per start, and its version. */
import type { Random } from '../core/random.js';

export const VERSION = '0.1.0';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/** A 12-character token; a new one on every process start marks a restart to the peer. */
export function newInstanceId(random: Random): string {
  let id = '';
  for (let i = 0; i < 12; i++) id += ALPHABET[random.int(0, ALPHABET.length - 1)];
  return id;
}
