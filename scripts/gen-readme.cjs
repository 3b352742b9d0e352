#!/usr/bin/env node
// npm run readme — regenerates the marked sections of README.md from the code, so they cannot
// drift (test/dist/readme.test.ts fails when they do):
//
//   <!-- BEGIN GENERATED: commands -->  the command table of the built native core
//                                       (Core.commandTable(), the same table COMMAND serves)
//   <!-- BEGIN GENERATED: config -->    the directives forkv implements (ts/config/schema.ts,
//                                       via dist/), with their defaults as CONFIG GET prints them
//   <!-- BEGIN GENERATED: benchmarks --> issue 16's headline figures from bench/figures.json
//                                       (written by `npx tsx bench/figures.ts` from bench runs)
//
// Needs `npm run build` (the binding in ts/native, the compiled config in dist/).
// `node scripts/gen-readme.cjs --check` exits 1 instead of writing when README.md is stale.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const README = path.join(ROOT, 'README.md');

/** Order of the command groups in the README (others follow, alphabetically). */
const GROUP_ORDER = ['connection', 'server', 'generic', 'string', 'list', 'hash', 'set', 'sorted-set'];

function commandRows() {
  const binding = require(path.join(ROOT, 'ts', 'native', 'binding.cjs'));
  return binding.Core.commandTable();
}

function arity(n) {
  // Valkey's arity counts the command name; negative means "at least".
  return n < 0 ? `≥ ${-n - 1}` : String(n - 1);
}

function escapeCell(s) {
  return String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function renderCommands(rows) {
  const groups = new Map();
  for (const r of rows) {
    if (!groups.has(r.group)) groups.set(r.group, []);
    groups.get(r.group).push(r);
  }
  const names = [...groups.keys()].sort((a, b) => {
    const ia = GROUP_ORDER.indexOf(a) === -1 ? GROUP_ORDER.length : GROUP_ORDER.indexOf(a);
    const ib = GROUP_ORDER.indexOf(b) === -1 ? GROUP_ORDER.length : GROUP_ORDER.indexOf(b);
    return ia - ib || a.localeCompare(b);
  });
  const out = [
    `${rows.length} commands. "Args" is the number of arguments after the command name (from`,
    "Valkey's arity); subcommands (CONFIG GET, CLIENT SETNAME, OBJECT ENCODING, ...) are listed",
    'by `COMMAND DOCS`, not here.',
    '',
  ];
  for (const g of names) {
    const list = groups.get(g).slice().sort((a, b) => a.name.localeCompare(b.name));
    out.push(`#### ${g} (${list.length})`, '', '| Command | Args | Since | Summary |', '| --- | --- | --- | --- |');
    for (const r of list) out.push(`| \`${r.name.toUpperCase()}\` | ${arity(r.arity)} | ${r.since} | ${escapeCell(r.summary)} |`);
    out.push('');
  }
  return out.join('\n');
}

function renderConfig() {
  const cfg = require(path.join(ROOT, 'dist', 'config', 'index.js'));
  const store = new cfg.ConfigStore({ cwd: '/' });
  const implemented = cfg.CONFIG_TABLE.filter((d) => d.implemented).slice().sort((a, b) => a.name.localeCompare(b.name));
  const others = cfg.CONFIG_TABLE.filter((d) => !d.implemented).length;
  const out = [
    `${implemented.length} directives are implemented. Another ${others} of Valkey's are accepted (so a`,
    "valkey.conf loads unchanged) but have no effect; forkv logs a warning for each one set to a",
    'non-default value. `include` is implemented too (glob patterns included).',
    '',
    '| Directive | Default | CONFIG SET | Note |',
    '| --- | --- | --- | --- |',
  ];
  for (const d of implemented) {
    let shown;
    if (d.name === 'dir') shown = 'the working directory';
    else {
      const pair = store.get([d.name], (p, n) => p === n)[0];
      const def = pair ? pair[1] : '';
      shown = def === '' ? '""' : `\`${escapeCell(def)}\``;
    }
    const notes = [];
    if (d.alias) notes.push(`alias \`${d.alias}\``);
    if (d.caveat) notes.push(d.caveat);
    if (d.forkvOnly) notes.push('forkv only');
    out.push(`| \`${d.name}\` | ${shown} | ${d.flags.immutable ? 'no (restart)' : 'yes'} | ${escapeCell(notes.join('; '))} |`);
  }
  out.push('');
  return out.join('\n');
}

/** A figure as the README shows it: thousands separators for large values, else 3 significant digits. */
function fmtFigure(v, unit) {
  if (unit === 'ops/s' || unit === 'us' || Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toFixed(digits);
}

const UNIT_SHOWN = { 'ops/s': '', 'k ops/s': '', B: ' B', MB: ' MB', ms: ' ms', us: ' µs', x: 'x', '': '' };

/** Whether a target ("<= 0.8", ">= 1.0", "forkv <= 2") is met: by the ratio, or by forkv's own figure. */
function targetMet(f) {
  const m = /(<=|>=)\s*([\d.]+)/.exec(f.target);
  if (!m) return '';
  const v = f.kind === 'own' ? f.forkv : f.ratio;
  if (v === null) return '';
  const ok = m[1] === '<=' ? v <= Number(m[2]) : v >= Number(m[2]);
  return ok ? 'met' : 'not met';
}

/**
 * What the load averages say about the run. The harness's own processes (the two servers and
 * redis-benchmark) keep a 2-core machine near a load of 2, so only a load above the core count
 * plus one means other work competed for the CPU.
 */
function loadSentence(cores, loads) {
  const lo = Math.min(...loads).toFixed(1);
  const hi = Math.max(...loads).toFixed(1);
  if (Math.max(...loads) <= cores + 1) {
    return [
      `Nothing else ran on the machine (1-minute load average ${lo} to ${hi} at the starts and ends of the runs,`,
      'the harness\'s own servers and load generator included).',
    ];
  }
  return [
    `The machine was shared with other builds and test suites (1-minute load average ${lo} to`,
    `${hi} at the starts and ends of the runs): absolute figures are noise, the ratios less so.`,
  ];
}

function renderBenchmarks() {
  const data = JSON.parse(fs.readFileSync(path.join(ROOT, 'bench', 'figures.json'), 'utf8'));
  const m = data.machine;
  const measured = data.runs.filter((r) => !r.missing);
  const dates = [...new Set(measured.map((r) => r.startedAt.slice(0, 10)))].join(', ');
  const loads = measured.flatMap((r) => [r.loadAvgAtStart[0], r.loadAvgAtEnd[0]]).filter((x) => typeof x === 'number');
  const commits = [...new Set(measured.map((r) => r.forkvGitCommit.slice(0, 10)))].join(', ');
  const out = [
    `Measured ${dates} on ${m.cpuCount} × ${m.cpuModel.trim()}, ${m.memTotalGiB} GiB, ${m.kernel}, Node ${m.node},`,
    `against ${m.redis.replace(/ sha=.*$/, '')} started by the same harness on the same machine (forkv commit ${commits}).`,
    ...loadSentence(m.cpuCount, loads),
    '',
    '| figure | forkv | redis 7.0 | forkv / redis | target | |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const f of data.figures) {
    if (f.missing) {
      out.push(`| ${f.label} | not measured | | | | |`);
      continue;
    }
    const u = UNIT_SHOWN[f.unit] ?? ` ${f.unit}`;
    const ratio = f.kind === 'own' || f.ratio === null ? '' : `${f.ratio.toFixed(2)}x`;
    out.push(`| ${f.label} | ${fmtFigure(f.forkv, f.unit)}${u} | ${fmtFigure(f.redis, f.unit)}${u} | ${ratio} | ${f.target} | ${targetMet(f)} |`);
  }
  out.push('', 'Repetitions (a figure of a repeated measurement is the median):', '');
  for (const r of data.runs) {
    out.push(r.missing ? `- \`${r.bench}\`: not measured in this run: ${r.missing}.` : `- \`${r.bench}\`: ${r.repeats} (\`${r.file}\`, not committed).`);
  }
  out.push('');
  return out.join('\n');
}

function replaceSection(text, name, body) {
  const begin = `<!-- BEGIN GENERATED: ${name} (npm run readme) -->`;
  const end = `<!-- END GENERATED: ${name} -->`;
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md has no "${begin}" ... "${end}" section`);
  return `${text.slice(0, i + begin.length)}\n${body}${text.slice(j)}`;
}

/** README.md as it should be. */
function render(current = fs.readFileSync(README, 'utf8')) {
  let text = replaceSection(current, 'commands', renderCommands(commandRows()));
  text = replaceSection(text, 'config', renderConfig());
  text = replaceSection(text, 'benchmarks', renderBenchmarks());
  return text;
}

module.exports = { render, renderCommands, renderConfig, renderBenchmarks };

if (require.main === module) {
  const current = fs.readFileSync(README, 'utf8');
  const next = render(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      process.stderr.write('README.md is stale: run `npm run readme` (after `npm run build`) and commit it.\n');
      process.exit(1);
    }
  } else if (next !== current) {
    fs.writeFileSync(README, next);
    process.stdout.write('README.md updated\n');
  }
}
