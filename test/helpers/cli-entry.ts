// Runs the CLI from source (tests spawn it with `node --import tsx`), so they need no build.
import { main } from '../../src/cli/index.js';

process.exitCode = await main(process.argv);
