// Pure pieces of the UI: sticky modifiers and the command-line splitter.
import assert from "node:assert/strict";
import { test } from "node:test";
import { joinArgv, splitArgv } from "../src/ui/argv.js";
import { Modifiers } from "../src/ui/keybar.js";

test("sticky Ctrl and Alt apply to the next key once", () => {
  const m = new Modifiers();
  let changes = 0;
  m.onChange = () => changes++;
  m.ctrl = true;
  assert.equal(m.apply("c"), "\x03");
  assert.equal(m.apply("c"), "c");
  m.alt = true;
  assert.equal(m.apply("b"), "\x1bb");
  m.ctrl = m.alt = true;
  assert.equal(m.apply("["), "\x1b\x1b");
  assert.equal(m.apply("x"), "x");
  assert.equal(changes, 3);
});

test("command lines split like a shell without expansion", () => {
  assert.deepEqual(splitArgv(`npm test -- --grep "two words" 'a b' c\\ d`), ["npm", "test", "--", "--grep", "two words", "a b", "c d"]);
  assert.deepEqual(splitArgv(`  `), []);
  assert.deepEqual(splitArgv(`echo ""`), ["echo", ""]);
  assert.throws(() => splitArgv(`echo "open`), /unclosed/);
  const argv = ["git", "commit", "-m", "it's done", "--", "a b"];
  assert.deepEqual(splitArgv(joinArgv(argv)), argv);
});
