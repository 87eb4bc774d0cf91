#!/usr/bin/env node
// `npx streamfold <command>`: runs the TypeScript CLI through tsx, as `npm run dev` does.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
