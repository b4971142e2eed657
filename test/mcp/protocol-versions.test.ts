import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as sdk from '@modelcontextprotocol/sdk/types.js';
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from '../../sidecar/mcp/protocol-versions.js';

test("the sidecar's protocol versions are the SDK's", () => {
  assert.equal(LATEST_PROTOCOL_VERSION, sdk.LATEST_PROTOCOL_VERSION);
  assert.deepEqual([...SUPPORTED_PROTOCOL_VERSIONS], [...sdk.SUPPORTED_PROTOCOL_VERSIONS]);
});
