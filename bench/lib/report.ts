/** Writes a run's rows as JSON and as a Markdown table, with the machine and the date. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Profile, Row } from './types.js';

export type Machine = Readonly<{
  cpus: number;
  cpuModel: string;
  memoryGb: number;
  node: string;
  platform: string;
  loadAverage: readonly number[];
}>;

export type RunReport = Readonly<{
  date: string;
  profile: Profile['name'];
  benchmarks: readonly string[];
  seconds: number;
  machine: Machine;
  rows: readonly Row[];
}>;

export function machine(): Machine {
  return {
    cpus: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}

function cell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '–';
  return String(value).replaceAll('|', '\\|');
}

function met(row: Row): string {
  if (row.target === undefined) return '';
  if (row.met === undefined) return `${row.target} (not judged)`;
  return `${row.target}: ${row.met ? 'met' : '**missed**'}`;
}

export function markdown(report: RunReport): string {
  const m = report.machine;
  const lines = [
    `# Streamfold benchmarks, ${report.date} (${report.profile})`,
    '',
    `Machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGb} GB, Node ${m.node}, ${m.platform}; load average at the start ${m.loadAverage.join(' ')}. Run took ${Math.round(report.seconds)} s.`,
    '',
    '| benchmark | figure | value | unit | ratio | target | how |',
    '| --- | --- | ---: | --- | ---: | --- | --- |',
    ...report.rows.map(
      (row) =>
        `| ${cell(row.benchmark)} | ${cell(row.name)} | ${cell(row.value)} | ${cell(row.unit)} | ${row.ratio === undefined ? '' : `${row.ratio} × ${cell(row.ratioTo)}`} | ${cell(met(row))} | ${cell(row.note)} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** Writes `<date>-<profile>.json|md` and `latest-<profile>.json|md`; returns the Markdown path. */
export function writeReport(dir: string, report: RunReport): string {
  mkdirSync(dir, { recursive: true });
  const stamp = report.date.replaceAll(':', '-').replace(/\.\d+Z$/, 'Z');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const md = markdown(report);
  for (const name of [`${stamp}-${report.profile}`, `latest-${report.profile}`]) {
    writeFileSync(path.join(dir, `${name}.json`), json);
    writeFileSync(path.join(dir, `${name}.md`), md);
  }
  return path.join(dir, `${stamp}-${report.profile}.md`);
}
