#!/usr/bin/env node
// Thin entry point: the compiled CLI lives in dist/ (built by `npm install` via `prepare`).
import { main } from '../dist/cli/index.js';

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(err instanceof Error ? err.message : String(err)); process.exitCode = 1; },
);
