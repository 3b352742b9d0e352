import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { quoteArg, splitArgs, splitOnSpaces } from '../../ts/config/split-args';

test('plain words, any run of blanks separates them', () => {
  assert.equal(splitArgs('port 6379'), ['port', '6379']);
  assert.equal(splitArgs('  save\t900   1  '), ['save', '900', '1']);
  assert.equal(splitArgs(''), []);
  assert.equal(splitArgs(' \t '), []);
});

test('only space, \\n, \\r and \\t end an unquoted token (\\v and \\f do not)', () => {
  assert.equal(splitArgs('a\vb c'), ['a\vb', 'c']);
  assert.equal(splitArgs('\v\fa'), ['a']); // but leading blanks are skipped with isspace()
});

test('double quotes: escapes \\n \\r \\t \\b \\a \\\\ \\" and \\xHH', () => {
  assert.equal(splitArgs('"a\\nb\\rc\\td\\be\\af"'), ['a\nb\rc\td\be\x07f']);
  assert.equal(splitArgs('"back\\\\slash" "q\\"uote"'), ['back\\slash', 'q"uote']);
  assert.equal(splitArgs('"\\x41\\x62\\x7a"'), ['Abz']);
  assert.equal(splitArgs('"\\x00"'), ['\u0000']);
  assert.equal(splitArgs('"foo bar" baz'), ['foo bar', 'baz']);
  assert.equal(splitArgs('""'), ['']);
});

test('double quotes: an unknown escape is the character itself, \\x needs two hex digits', () => {
  assert.equal(splitArgs('"\\q\\\'"'), ["q'"]);
  assert.equal(splitArgs('"\\xZZ"'), ['xZZ']);
  assert.equal(splitArgs('"\\x4"'), ['x4']);
});

test('single quotes: only \\\' is an escape', () => {
  assert.equal(splitArgs("'it\\'s'"), ["it's"]);
  assert.equal(splitArgs("'a\\nb'"), ['a\\nb']);
  assert.equal(splitArgs("'say \"hi\"'"), ['say "hi"']);
});

test('a quote may open inside a token', () => {
  assert.equal(splitArgs('a"b c"'), ['ab c']);
  assert.equal(splitArgs("x'y z' w"), ['xy z', 'w']);
});

test('unbalanced quotes and a closing quote not followed by a blank give null', () => {
  assert.is(splitArgs('"foo"bar'), null);
  assert.is(splitArgs("'foo'bar"), null);
  assert.is(splitArgs('"foo'), null);
  assert.is(splitArgs("'foo"), null);
  assert.is(splitArgs('foo"'), null);
  assert.is(splitArgs('"foo\\'), null);
  assert.is(splitArgs('set "foo'), null);
  assert.equal(splitArgs('"foo"\tbar'), ['foo', 'bar']);
});

test('\\x escapes are bytes, decoded as UTF-8 with the literal characters', () => {
  assert.equal(splitArgs('"\\xc3\\xa9t\\xc3\\xa9"'), ['été']);
  assert.equal(splitArgs('"été"'), ['été']);
});

test('quoteArg is sdscatrepr and round-trips through splitArgs', () => {
  assert.is(quoteArg('dump.rdb'), '"dump.rdb"');
  assert.is(quoteArg(''), '""');
  assert.is(quoteArg('a "b"\\c\n\r\t\x07\b'), '"a \\"b\\"\\\\c\\n\\r\\t\\a\\b"');
  assert.is(quoteArg('\x01é'), '"\\x01\\xc3\\xa9"');
  for (const s of ['', 'plain', 'with space', 'q"uote', "s'ingle", 'back\\', 'nl\n', 'é ü 日本', '\x00\x7f']) {
    assert.equal(splitArgs(quoteArg(s)), [s], JSON.stringify(s));
  }
});

test('splitOnSpaces is sdssplitlen on " " (CONFIG SET multi-argument values)', () => {
  assert.equal(splitOnSpaces(''), []);
  assert.equal(splitOnSpaces('900 1'), ['900', '1']);
  assert.equal(splitOnSpaces('a  b'), ['a', '', 'b']);
});

test.run();
