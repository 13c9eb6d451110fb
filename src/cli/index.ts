import { Command } from 'commander';
import { registerAudit } from './audit.js';
import { registerCa } from './ca.js';
import { registerCert } from './cert.js';
import { registerDemo } from './demo.js';
import { registerDetect } from './detect.js';
import { registerDevice } from './device.js';
import { registerEnrollment } from './enroll.js';
import { registerGateway } from './gateway.js';
import { registerImpact } from './impact.js';
import { reportError } from './output.js';
import { registerSegw } from './segw.js';
import { registerServe } from './serve.js';
import { registerSimulate } from './simulate.js';
import { registerToken } from './token.js';

export function buildProgram(): Command {
  const program = new Command('femtoguard')
    .description('keeps rogue femtocells off a mobile network: per-device PKI, EST, OCSP/CRL, fleet registry')
    .version('0.1.0')
    .option('--data-dir <dir>', 'data directory (env FEMTOGUARD_DATA_DIR, default ./femtoguard-data)')
    .option('--config <file>', 'JSON config file (env FEMTOGUARD_CONFIG)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .showHelpAfterError()
    .exitOverride();
  registerServe(program);
  registerCa(program);
  registerToken(program);
  registerDevice(program);
  registerEnrollment(program);
  registerCert(program);
  registerAudit(program);
  registerDetect(program);
  registerSegw(program);
  registerGateway(program);
  registerImpact(program);
  registerSimulate(program);
  registerDemo(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}
