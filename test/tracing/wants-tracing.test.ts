/** When the OTEL_* environment turns tracing on: the SDK's own meaning of its variables. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wantsTracing } from '../../sidecar/tracing/tracing.js';

test('off by default, on with an OTLP endpoint or OTEL_TRACES_EXPORTER=otlp', () => {
  assert.equal(wantsTracing({}), false);
  assert.equal(wantsTracing({ OTEL_SERVICE_NAME: 'x' }), false, 'a service name alone exports nothing');
  assert.equal(wantsTracing({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }), true);
  assert.equal(wantsTracing({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), true);
  assert.equal(wantsTracing({ OTEL_TRACES_EXPORTER: 'console, otlp' }), true);
});

test('OTEL_SDK_DISABLED=true and OTEL_TRACES_EXPORTER=none keep it off', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
  assert.equal(wantsTracing({ ...endpoint, OTEL_SDK_DISABLED: 'TRUE' }), false);
  assert.equal(wantsTracing({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }), false);
  assert.equal(wantsTracing({ ...endpoint, OTEL_SDK_DISABLED: 'false' }), true);
});
