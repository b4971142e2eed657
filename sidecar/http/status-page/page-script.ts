/**
 * The status page's script, run by the browser (served at /status-page.js, compiled like the rest). It polls the
 * status document (GET / with Accept: application/json) every 2 s, loads the tools (GET /tools) when their hash
 * changes, and calls a tool through the REST facade with Content-Type: application/json, as the facade requires.
 * Whatever the server sends is put in as text (textContent), never parsed as HTML: tool names and descriptions
 * come from the MCP server and are not trusted. Links are kept only when they are http(s).
 */

interface Tool {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: { properties?: Record<string, { type?: string; default?: unknown }> };
}

const REFRESH_MS = 2000;
let shownToolsHash: string | undefined;

function byId(id: string): HTMLElement {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string): HTMLElementTagNameMap[K] {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  return made;
}

function httpLink(url: unknown, text: string): HTMLElement {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return element('span', text);
  const link = element('a', text);
  link.href = url;
  link.rel = 'noreferrer';
  return link;
}

function describeTime(iso: unknown): string {
  if (typeof iso !== 'string') return '';
  const seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return Number.isFinite(seconds) ? `${iso} (${seconds} s ago)` : iso;
}

function renderStatus(status: Record<string, any>): void {
  byId('name').textContent = String(status.name ?? '');
  const state = byId('state');
  state.textContent = String(status.status ?? 'unknown');
  state.className = `state ${status.status === 'ready' ? 'ok' : 'bad'}`;
  const worker = status.worker ?? {};
  const server = status.server;
  const eras = Array.isArray(status.eras) ? status.eras : [];
  const rows: [string, string][] = [
    ['MCP server', server ? `${server.title ?? server.name} ${server.version}` : 'not handshaken yet'],
    ['stdio protocol', server ? String(server.protocolVersion) : ''],
    ['eras served', eras.map((e: any) => `${e.era} (${e.mode}): ${(e.versions ?? []).join(', ')}`).join('; ')],
    ['worker', `${worker.state ?? 'none'}${worker.pid ? `, pid ${worker.pid}` : ''}`],
    ['restarts', String(worker.restarts ?? 0)],
    ['last ping', worker.lastPing ? `${worker.lastPing.latencyMs} ms, ${describeTime(worker.lastPing.at)}` : ''],
    ['last failure', worker.lastFailure ? `${worker.lastFailure.reason}, ${describeTime(worker.lastFailure.at)}` : ''],
    ['sessions', String(status.sessions ?? 0)],
    ['calls in flight', String(status.inflight ?? 0)],
    ['sidecar', String(status.sidecarVersion ?? '')],
  ];
  if (status.reason) rows.splice(4, 0, ['not ready because', String(status.reason)]);
  byId('server').replaceChildren(...rows.flatMap(([term, value]) => [element('dt', term), element('dd', value)]));

  const publishers: any[] = Array.isArray(status.publishers) ? status.publishers : [];
  const body = byId('publishers').querySelector('tbody')!;
  body.replaceChildren(
    ...(publishers.length === 0
      ? [cells(['none configured', '', '', ''])]
      : publishers.map((p) => {
          const row = cells(['', String(p.state), String(p.since ?? ''), String(p.lastError ?? '')]);
          row.cells[0].append(p.ui ? httpLink(p.ui, `${p.publisher} (open in the Consul UI)`) : String(p.publisher));
          return row;
        })),
  );
  if (server && server.toolsHash !== shownToolsHash) void loadTools(server.toolsHash);
}

function cells(texts: string[]): HTMLTableRowElement {
  const row = element('tr');
  row.append(...texts.map((text) => element('td', text)));
  return row;
}

/** The arguments a form starts with: each property of the input schema, with its default or an empty value. */
function argumentsSkeleton(tool: Tool): string {
  const skeleton: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(tool.inputSchema?.properties ?? {})) {
    const empty = schema.type === 'number' || schema.type === 'integer' ? 0 : schema.type === 'boolean' ? false : '';
    skeleton[name] = schema.default ?? (schema.type === 'object' ? {} : schema.type === 'array' ? [] : empty);
  }
  return JSON.stringify(skeleton);
}

function resultText(result: any): string {
  const texts = Array.isArray(result?.content)
    ? result.content.filter((c: any) => c?.type === 'text').map((c: any) => String(c.text))
    : [];
  return texts.length > 0 ? texts.join('\n') : JSON.stringify(result, null, 2);
}

function toolForm(tool: Tool): HTMLElement {
  const section = element('section');
  section.className = 'tool';
  section.dataset.tool = tool.name;
  section.append(element('h3', tool.name));
  if (tool.description) section.append(element('p', tool.description));
  const form = element('form');
  const input = element('textarea');
  input.name = 'arguments';
  input.value = argumentsSkeleton(tool);
  input.setAttribute('aria-label', `arguments of ${tool.name} (JSON)`);
  const button = element('button', 'Call');
  button.type = 'submit';
  const output = element('pre');
  output.className = 'result';
  output.hidden = true;
  form.append(input, button);
  section.append(form, output);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void callTool(tool.name, input.value, output, button);
  });
  return section;
}

async function callTool(name: string, args: string, output: HTMLElement, button: HTMLButtonElement): Promise<void> {
  output.hidden = false;
  output.className = 'result';
  try {
    JSON.parse(args || '{}');
  } catch (err) {
    output.className = 'result error';
    output.textContent = `the arguments are not JSON: ${(err as Error).message}`;
    return;
  }
  button.disabled = true;
  output.textContent = 'calling…';
  try {
    const res = await fetch(`/tools/${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: args || '{}',
    });
    const body = await res.json().catch(() => undefined);
    const failed = !res.ok || body?.isError === true;
    output.className = failed ? 'result error' : 'result';
    output.textContent = res.ok ? resultText(body) : `HTTP ${res.status}: ${body?.error ?? res.statusText}`;
  } catch (err) {
    output.className = 'result error';
    output.textContent = `the call failed: ${(err as Error).message}`;
  } finally {
    button.disabled = false;
  }
}

async function loadTools(hash: string): Promise<void> {
  shownToolsHash = hash;
  const res = await fetch('/tools', { headers: { accept: 'application/json' } });
  if (!res.ok) {
    shownToolsHash = undefined; // asked again at the next refresh
    return;
  }
  const { tools } = (await res.json()) as { tools: Tool[] };
  byId('tool-count').textContent = `(${tools.length})`;
  byId('tools').replaceChildren(...tools.map(toolForm));
}

async function refresh(): Promise<void> {
  try {
    const res = await fetch('/', { headers: { accept: 'application/json' }, cache: 'no-store' });
    if (!res.ok) throw new Error(`GET / answered HTTP ${res.status}`);
    renderStatus((await res.json()) as Record<string, any>);
    byId('problem').textContent = '';
    byId('updated').textContent = `Last update ${new Date().toLocaleTimeString()}.`;
  } catch (err) {
    byId('problem').textContent = `The sidecar does not answer: ${(err as Error).message}`;
  } finally {
    setTimeout(() => void refresh(), REFRESH_MS);
  }
}

void refresh();
