/**
 * The status page's markup and style: a static shell with no data in it. Everything shown comes from the
 * server at run time and is put in by page-script.ts as text nodes, never as HTML, so a tool's name or
 * description (which the MCP server chooses) cannot become markup. The style is inline and allowed by its hash in
 * the Content-Security-Policy; the script is a file of its own (script-src 'self').
 */

export const STATUS_PAGE_STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem; color: #1d2330; }
h1 { font-size: 1.4rem; margin: 0 0 .25rem; } h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.state { display: inline-block; padding: .05rem .5rem; border-radius: .75rem; background: #d8dce4; font-weight: 600; }
.state.ok { background: #c9f2d4; color: #0b5a22; } .state.bad { background: #fbd5d5; color: #8a1010; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; } dt { color: #5b6475; }
table { border-collapse: collapse; } td, th { text-align: left; padding: .2rem .75rem .2rem 0; }
.tool { border: 1px solid #d8dce4; border-radius: .4rem; padding: .6rem .8rem; margin: .6rem 0; }
.tool h3 { font: 600 1rem ui-monospace, monospace; margin: 0 0 .2rem; } .tool p { margin: 0 0 .4rem; color: #3b4354; }
.tool textarea { width: 100%; box-sizing: border-box; font: 13px ui-monospace, monospace; min-height: 2.6rem; }
.tool pre { background: #f3f5f8; padding: .5rem; white-space: pre-wrap; word-break: break-word; margin: .4rem 0 0; }
.tool pre.error { background: #fde8e8; } #problem { color: #8a1010; } footer { color: #5b6475; margin-top: 1.5rem; }
`;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcp-sidecar</title>
<link rel="icon" href="data:,">
<style>${STATUS_PAGE_STYLE}</style>
<script type="module" src="/status-page.js"></script>
</head>
<body>
<header>
  <h1>mcp-sidecar: <span id="name">…</span> <span id="state" class="state">loading</span></h1>
  <div id="problem" role="alert"></div>
</header>
<h2>Server</h2>
<dl id="server"></dl>
<h2>Registries</h2>
<table id="publishers"><thead><tr><th>registry</th><th>state</th><th>since</th><th>last error</th></tr></thead><tbody></tbody></table>
<h2>Tools <span id="tool-count"></span></h2>
<p>Each form calls the tool through the REST facade (<code>POST /tools/&lt;name&gt;</code>, the arguments as JSON).</p>
<div id="tools"></div>
<footer>Refreshed every 2 s from <code>GET /</code> (JSON for scripts with <code>Accept: application/json</code>). <span id="updated"></span></footer>
</body>
</html>
`;
