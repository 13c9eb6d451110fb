import type { Command } from 'commander';
import { configFrom } from './context.js';

/** `femtoguard serve`: run the server until SIGTERM/SIGINT, then drain and exit. */
export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the server: API, OCSP and CRL over HTTP; EST over HTTPS')
    .option('--http <host:port>', 'HTTP listener (API, OCSP, CRL)', undefined)
    .option('--https <host:port>', 'HTTPS listener (EST)', undefined)
    .option('--revocation <host:port>', 'dedicated OCSP/CRL listener for gateways (docs/operations.md); new certificates name it')
    .option('--public-url <url>', 'base URL written into certificates for OCSP and CRL')
    .action(async (o: { http?: string; https?: string; revocation?: string; publicUrl?: string }, cmd: Command) => {
      const config = await configFrom(cmd, { http: o.http, https: o.https, revocation: o.revocation, publicUrl: o.publicUrl });
      const { createLogger } = await import('../core/logger.js');
      const { startServer } = await import('../app/index.js');
      const logger = createLogger({ level: config.logLevel });
      const srv = await startServer(config, { logger });
      const out = [
        `femtoguard is running (data directory ${config.dataDir})`,
        `  API, OCSP, CRL  ${srv.httpUrl}   (OCSP ${srv.httpUrl}/ocsp, CRL ${srv.httpUrl}/crl)`,
        `  EST             ${srv.httpsUrl}/.well-known/est/`,
        `  CA chain        ${srv.httpUrl}/ca/chain.pem`,
        `  Console         ${srv.httpUrl}/dashboard   (sign in with an API token)`,
      ];
      if (srv.revocationUrl) out.push(`  OCSP, CRL for gateways  ${srv.revocationUrl}   (OCSP ${srv.revocationUrl}/ocsp, CRL ${srv.revocationUrl}/crl)`);
      if (srv.caCreated) out.push(`  CA initialised; passphrase ${srv.passphraseSource}`);
      if (srv.adminToken) {
        out.push('', 'One-time admin API token (shown only now; store it safely):', `  ${srv.adminToken}`);
        out.push('', `Try: curl -H "Authorization: Bearer $TOKEN" ${srv.httpUrl}/v1/devices`);
      }
      process.stdout.write(out.join('\n') + '\n');
      // A first run has nothing to show: say once, at start, how to see it work.
      if ((await srv.base.registry.count({})) === 0) {
        process.stderr.write(
          [
            'The registry is empty. To see femtoguard catch a rogue femtocell, run the demo (its own server and data directory):',
            '  npm run demo            (or: npx femtoguard demo)',
            'or drive this server with a simulated fleet (docs/simulator.md):',
            `  npx femtoguard simulate --target ${srv.httpUrl} --est ${srv.httpsUrl} --token <admin token> --devices 300 --speed 60`,
          ].join('\n') + '\n',
        );
      }
      await new Promise<void>((resolve) => {
        const shutdown = (sig: string): void => {
          logger.info({ signal: sig }, 'shutting down');
          const hard = setTimeout(() => process.exit(1), 10_000);
          hard.unref();
          srv.stop().then(resolve, resolve);
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
    });
}
