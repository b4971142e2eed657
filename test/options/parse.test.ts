/**
 * The option parser both commands share: every kind of option, the precedence flag > MCP_SIDECAR_* >
 * the ecosystem's name > default, and the message each kind of mistake gets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { optionHelp } from '../../sidecar/options/help.js';
import {
  bytes,
  choice,
  duration,
  hostPort,
  int,
  list,
  port,
  routePath,
  serviceName,
  text,
  toggle,
} from '../../sidecar/options/option.js';
import { envName, parseOptions, type Usage } from '../../sidecar/options/parse.js';
import { defaultServiceId } from '../../sidecar/options/service-id.js';
import { OPTIONS, SECTIONS } from '../../sidecar/options/table.js';
import { ConfigError, parseHostPort, parseHttpUrl } from '../../sidecar/options/validate.js';

const TABLE = {
  label: text({ flag: 'label', arg: 'text', help: 'a string' }),
  server: serviceName({ flag: 'server', arg: 'name', help: 'a service name' }),
  path: routePath({ flag: 'path', arg: 'path', help: 'a route path' }),
  count: int({ flag: 'count', min: 1, default: '3', arg: 'n', help: 'a whole number, at least 1' }),
  listen: port({ flag: 'listen', default: '8080', arg: 'n', help: 'a port' }),
  waitMs: duration({ flag: 'wait', default: '1s', arg: 'dur', help: 'a duration' }),
  sizeBytes: bytes({ flag: 'size', default: '1kb', arg: 'size', help: 'a size' }),
  peer: hostPort({ flag: 'peer', arg: 'host:port', help: 'an address' }),
  mode: choice({ flag: 'mode', values: ['fast', 'safe'], default: 'safe', arg: 'mode', help: 'a choice' }),
  verbose: toggle({ flag: 'verbose', short: 'v', help: 'a switch, off by default' }),
  retry: toggle({ flag: 'retry', default: 'true', help: 'a switch, on by default' }),
  hosts: list({ flag: 'host', split: true, arg: 'h,h', help: 'a comma list' }),
  pairs: list({ flag: 'pair', arg: 'k=v', help: 'a list whose values may hold commas' }),
  peers: list({ flag: 'peers', split: true, item: parseHostPort, arg: 'host:port', help: 'a typed list' }),
  agent: text({
    flag: 'agent',
    env: 'AGENT_ADDR',
    default: 'default-agent',
    arg: 'url',
    help: 'with an ecosystem name',
  }),
};

const USAGE: Usage = { unknownHint: 'try --help', strayHint: 'put the command after "--"', takesCommand: true };
const parse = (argv: string[], env: Record<string, string> = {}, usage = USAGE) =>
  parseOptions(TABLE, argv, env, usage);

describe('parseOptions', () => {
  test('each kind of option gives its typed value; absent options without a default are undefined', () => {
    const { values } = parse([
      '--label',
      'hello world',
      '--server=memory',
      '--path',
      'mem',
      '--count',
      '7',
      '--listen',
      '0',
      '--wait',
      '250ms',
      '--size',
      '2mb',
      '--peer',
      '[fd00::1]:9000',
      '--mode',
      'fast',
      '-v',
      '--no-retry',
    ]);
    assert.deepEqual(values, {
      label: 'hello world',
      server: 'memory',
      path: 'mem',
      count: 7,
      listen: 0,
      waitMs: 250,
      sizeBytes: 2 * 1024 * 1024,
      peer: { host: '[fd00::1]', port: 9000 },
      mode: 'fast',
      verbose: true,
      retry: false,
      hosts: [],
      pairs: [],
      peers: [],
      agent: 'default-agent',
    });
    const defaults = parse([]).values;
    assert.equal(defaults.label, undefined);
    assert.equal(defaults.peer, undefined);
    assert.equal(defaults.count, 3);
    assert.equal(defaults.verbose, false);
    assert.equal(defaults.retry, true);
  });

  test('precedence: flag, then MCP_SIDECAR_<FLAG>, then the ecosystem name, then the default', () => {
    const both = { MCP_SIDECAR_AGENT: 'from-prefix', AGENT_ADDR: 'from-ecosystem' };
    assert.equal(parse(['--agent', 'from-flag'], both).values.agent, 'from-flag');
    assert.equal(parse([], both).values.agent, 'from-prefix');
    assert.equal(parse([], { AGENT_ADDR: 'from-ecosystem' }).values.agent, 'from-ecosystem');
    assert.equal(
      parse([], { MCP_SIDECAR_AGENT: '', AGENT_ADDR: '' }).values.agent,
      'default-agent',
      'empty means unset',
    );
    assert.equal(parse([], { MCP_SIDECAR_COUNT: '9' }).values.count, 9);
    assert.equal(parse(['--count', '4'], { MCP_SIDECAR_COUNT: '9' }).values.count, 4);
    assert.equal(parse(['--no-retry'], { MCP_SIDECAR_RETRY: 'yes' }).values.retry, false);
    assert.equal(parse([], { MCP_SIDECAR_RETRY: 'no' }).values.retry, false);
    assert.deepEqual(parse(['--host', 'a'], { MCP_SIDECAR_HOST: 'b,c' }).values.hosts, ['a'], 'flags replace the list');
    assert.equal(envName('max-session-inflight'), 'MCP_SIDECAR_MAX_SESSION_INFLIGHT');
  });

  test('the last value of a scalar wins; a switch takes --x, --x=false, --no-x in order', () => {
    assert.equal(parse(['--count', '4', '--count=5']).values.count, 5);
    assert.equal(parse(['--verbose', '--no-verbose']).values.verbose, false);
    assert.equal(parse(['--no-verbose', '--verbose=yes']).values.verbose, true);
    assert.equal(parse(['--retry=false']).values.retry, false);
  });

  test('lists repeat; comma lists split and trim, others keep commas; the environment always splits', () => {
    const { values } = parse(['--host', 'a, b', '--host=c', '--pair', 'K=1,2', '--pair', 'L=3', '--peers', 'x:1,y:2']);
    assert.deepEqual(values.hosts, ['a', 'b', 'c']);
    assert.deepEqual(values.pairs, ['K=1,2', 'L=3']);
    assert.deepEqual(values.peers, [
      { host: 'x', port: 1 },
      { host: 'y', port: 2 },
    ]);
    assert.deepEqual(parse([], { MCP_SIDECAR_PAIR: 'K=1, L=2' }).values.pairs, ['K=1', 'L=2']);
  });

  test('the command after "--" is kept whole, flags included; a command that takes none rejects it', () => {
    const { values, command } = parse(['--count', '2', '--', 'node', 'server.js', '--count', '9', '--']);
    assert.equal(values.count, 2);
    assert.deepEqual(command, ['node', 'server.js', '--count', '9', '--']);
    assert.deepEqual(parse(['--']).command, []);
    const noCommand = { ...USAGE, strayHint: 'no command here', takesCommand: false };
    assert.throws(() => parse(['--', 'node'], {}, noCommand), /unexpected argument "node": no command here/);
    assert.doesNotThrow(() => parse(['--'], {}, noCommand));
  });

  test('mistakes name the option, or the environment variable, and what to write', () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--colour', 'red'], {}, /^unknown option --colour; try --help$/],
      [['-x'], {}, /^unknown option -x; try --help$/],
      [['--no-count'], {}, /^unknown option --no-count/],
      [['stray'], {}, /^unexpected argument "stray": put the command after "--"$/],
      [['--verbose', 'true'], {}, /unexpected argument "true"/],
      [['--label'], {}, /^--label needs a value \(text\)$/],
      [['--label', '--count', '1'], {}, /^--label needs a value/],
      [['--no-verbose=1'], {}, /^--no-verbose takes no value$/],
      [['--verbose=maybe'], {}, /--verbose: "maybe" is not true or false/],
      [['--count', 'two'], {}, /^--count: "two" is not a whole number$/],
      [['--count', '0'], {}, /^--count must be at least 1 \(got 0\)$/],
      [[], { MCP_SIDECAR_COUNT: 'x' }, /^MCP_SIDECAR_COUNT: "x" is not a whole number$/],
      [['--listen', '70000'], {}, /^--listen 70000: not a TCP port \(use 0 to 65535\)$/],
      [['--wait', 'soon'], {}, /--wait: "soon" is not a duration; use e\.g\. 500ms/],
      [['--size', 'big'], {}, /--size: "big" is not a size; use e\.g\. 512kb/],
      [['--mode', 'slow'], {}, /--mode: "slow" is not one of fast, safe/],
      [['--server', 'two words'], {}, /--server "two words": use letters, digits/],
      [['--path', '/a b'], {}, /--path "\/a b": use a URL path/],
      [['--peer', 'nohost'], {}, /--peer "nohost": use host:port/],
      [['--peer', 'h:0'], {}, /--peer "h:0": use host:port with a port from 1 to 65535/],
      [['--peers', 'a:1,b:99999'], {}, /--peers "b:99999": use host:port/],
      [['--host', 'a,,b'], {}, /^--host "a,,b": empty item in the list; remove the extra comma$/],
      [[], { MCP_SIDECAR_HOST: 'a,' }, /^MCP_SIDECAR_HOST "a,": empty item/],
      [[], { AGENT_ADDR: 'x', MCP_SIDECAR_RETRY: 'maybe' }, /^MCP_SIDECAR_RETRY: "maybe" is not true or false$/],
    ];
    for (const [argv, env, message] of cases) {
      assert.throws(
        () => parse(argv, env),
        (err: Error) => err instanceof ConfigError && message.test(err.message),
        `${argv.join(' ')} ${JSON.stringify(env)}`,
      );
    }
  });

  test('help lists each section and option with its placeholder, default and environment names', () => {
    const help = optionHelp([['Things', TABLE]], { withEnv: true }).join('\n');
    assert.match(help, /^Things:$/m);
    assert.match(help, /^ {2}--count <n> +a whole number, at least 1 \[default: 3\] \(env MCP_SIDECAR_COUNT\)$/m);
    assert.match(help, /^ {2}-v, --verbose +a switch, off by default/m);
    assert.match(help, /^ {2}--\[no-\]retry +a switch, on by default/m);
    assert.match(help, /\(env MCP_SIDECAR_AGENT or AGENT_ADDR\)/);
    for (const line of help.split('\n')) assert.ok(line.length <= 120, `wrapped at 120: ${line}`);
    assert.doesNotMatch(optionHelp([['Things', TABLE]], { withEnv: false }).join('\n'), /MCP_SIDECAR_/);
  });
});

describe('the sidecar table', () => {
  test('no two options share a flag, every section is in OPTIONS, every default parses', () => {
    const flags = SECTIONS.flatMap(([, options]) => Object.values(options).map((o) => o.flag));
    assert.equal(new Set(flags).size, flags.length, `a flag twice: ${flags.join(' ')}`);
    assert.equal(Object.keys(OPTIONS).length, flags.length, 'a key of one section hides a key of another');
    assert.doesNotThrow(() => parseOptions(OPTIONS, [], {}, USAGE));
  });
});

describe('shared checks', () => {
  test('the default service id is <name>-<host>-<port> in Consul and Kong tag characters', () => {
    assert.equal(defaultServiceId('memory', '10.0.0.5', 8080), 'memory-10.0.0.5-8080');
    assert.equal(defaultServiceId('memory', '[fd00::1]', 8080), 'memory--fd00--1--8080');
  });

  test('http URLs: a bare host:port means http, a trailing slash goes, other schemes are refused', () => {
    assert.equal(parseHttpUrl('consul:8500', '--consul', 'x'), 'http://consul:8500');
    assert.equal(parseHttpUrl('https://consul:8501/', '--consul', 'x'), 'https://consul:8501');
    assert.throws(
      () => parseHttpUrl('ftp://consul', '--consul', 'http://127.0.0.1:8500'),
      /--consul "ftp:\/\/consul": use an http:\/\/ or https:\/\/ URL/,
    );
    assert.throws(
      () => parseHttpUrl('http://bad host', '--kong-admin', 'http://127.0.0.1:8001'),
      /--kong-admin "http:\/\/bad host": not a URL/,
    );
  });
});
