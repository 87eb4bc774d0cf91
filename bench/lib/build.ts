/**
 * The JavaScript that a run's child processes execute, compiled once at the start of the run.
 * Under tsx every child spends seconds of start-up in the loader (which registers itself again
 * in each worker thread), and a run starts dozens of children. The build is the transform tsx
 * applies, with tsx's own esbuild, file by file and without bundling, so the code that runs is
 * the same; it is only done once per run. Type-checking stays with `npm run typecheck`.
 */
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

/** The part of esbuild's API used here (esbuild comes with tsx, a development dependency). */
type Esbuild = Readonly<{
  build(options: {
    entryPoints: string[];
    outdir: string;
    outbase: string;
    format: 'esm';
    platform: 'node';
    target: string;
    tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: boolean } };
    logLevel: 'error';
  }): Promise<unknown>;
}>;

/** What the children import: the benchmark scripts and the sources they test. */
const FOLDERS = ['src', 'bench'];
const SKIPPED = new Set(['results']);

export type Build = Readonly<{
  /** Holds `src/` and `bench/` as JavaScript, beside the project's package.json and modules. */
  dir: string;
  remove(): void;
}>;

/**
 * Compiles `root`'s sources into a fresh temporary folder, one per run, outside the project so
 * that no linter or test runner ever picks it up. A package.json (ESM) and a link to the
 * project's node_modules make imports resolve there as they do in the project.
 */
export async function compileForChildren(root: string): Promise<Build> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-bench-build-'));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    symlinkSync(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
    const fromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
    const esbuild = fromTsx('esbuild') as Esbuild;
    await esbuild.build({
      entryPoints: FOLDERS.flatMap((folder) => sources(path.join(root, folder))),
      outdir: dir,
      outbase: root,
      format: 'esm',
      platform: 'node',
      target: `node${process.versions.node}`,
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
      logLevel: 'error',
    });
  } catch (error) {
    remove();
    throw error;
  }
  return { dir, remove };
}

function sources(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(folder, entry.name);
    if (entry.isDirectory()) {
      return SKIPPED.has(entry.name) || entry.name.startsWith('.') ? [] : sources(file);
    }
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [file] : [];
  });
}
