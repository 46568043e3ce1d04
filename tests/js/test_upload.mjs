// The page's upload module under node's own test runner (node --test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const up = require('../../src/serve/page/upload.js');

test('the module loads without a browser', () => {
  assert.equal(typeof up, 'object');
});
