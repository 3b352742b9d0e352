// Every `<command> HELP` in Valkey's one layout (addReplyHelp): the header line naming the
// command, its own lines, then the shared HELP entry. The commands are enumerated from
// the command table, so a HELP added later is checked too.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

import { errorOf } from '../helpers/errors';
import { useServer } from '../helpers/fixture';

const t = suite('help');
const fx = useServer(t, {}, false);

t('each container command HELP starts with its header and ends with the HELP entry', async () => {
  const names = (await fx.io.call('COMMAND', 'LIST', 'FILTERBY', 'PATTERN', '*|help')) as string[];
  assert.ok(names.length >= 14, `only ${names.length} HELP subcommands: ${names.join(' ')}`);
  for (const name of names) {
    const parent = name.split('|')[0]!.toUpperCase();
    // Without cluster mode Valkey refuses every CLUSTER subcommand, HELP included.
    if (parent === 'CLUSTER') {
      assert.is(await errorOf(fx.io.call(parent, 'HELP')), 'ERR This instance has cluster support disabled');
      continue;
    }
    const lines = (await fx.io.call(parent, 'HELP')) as string[];
    assert.is(lines[0], `${parent} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:`, name);
    assert.equal(lines.slice(-2), ['HELP', '    Print this help.'], name);
    assert.ok(lines.length > 3, `${name} lists no subcommand`);
  }
});

t('PUBSUB HELP is worded as Valkey words it', async () => {
  const lines = (await fx.io.call('PUBSUB', 'HELP')) as string[];
  assert.is(lines.at(-1), '    Print this help.');
  assert.is(lines.length, 14);
});

t.run();
