/** The shape every check family exports. */
import type { CheckInfo } from '../finding.js';
import type { Fleet } from '../fleet.js';
import type { Finding } from '../types.js';

export interface Check {
  info: CheckInfo;
  run(fleet: Fleet): Finding[];
}
