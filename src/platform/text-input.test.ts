import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findIllFormedText, isIllFormedText, printableText } from './text-input.ts';

test('NUL, lone and reversed surrogates are ill-formed; a surrogate pair and ordinary text are not', () => {
  for (const text of ['\u0000', 'a\u0000b', '\ud800', '\udfff', 'x\udc00\ud800y', 'end\ud83d'])
    assert.equal(isIllFormedText(text), true, JSON.stringify(text));
  for (const text of ['', 'Pixel 8', 'émoji 😀', '\ud83d\ude00', 'tab\tnew\nline', '\u0001'])
    assert.equal(isIllFormedText(text), false, JSON.stringify(text));
});

test('the first bad string is named by its path, at any depth, in arrays and in keys', () => {
  assert.deepEqual(findIllFormedText({ device: { name: '\ud800' } }, 'body')?.field, 'body.device.name');
  assert.deepEqual(findIllFormedText({ tags: ['ok', 'a\u0000b'] }, 'body')?.field, 'body.tags.1');
  const key = findIllFormedText({ metadata: { 'bad\u0000key': 1 } }, 'body');
  assert.equal(key?.field, 'body.metadata.bad\ufffdkey');
  assert.match(key?.reason ?? '', /name/);
  assert.equal(findIllFormedText({ a: [1, true, null, { b: 'fine' }] }, 'body'), undefined);
  assert.equal(findIllFormedText('\u0000', 'headers')?.field, 'headers');
  assert.equal(printableText('a\u0000\ud800b'), 'a\ufffd\ufffdb');
});

test('a body nested 100,000 deep is walked without overflowing the stack', () => {
  let nested: unknown = '\u0000';
  for (let depth = 0; depth < 100_000; depth += 1) nested = [nested];
  assert.equal(findIllFormedText(nested, 'body')?.field?.startsWith('body.0.0.0'), true);
});
