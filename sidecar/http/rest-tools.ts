/**
 * The REST facade for plain API consumers: `GET /tools` lists the server's tools, `POST /tools/:name` calls
 * one with the JSON body as its arguments and answers with the `tools/call` result. A tool that reports a
 * failure (`isError: true`) is still a successful HTTP exchange: 200, with `isError` in the body.
 */
import type { Request, Response } from 'express';
import type { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { carryTraceContext } from './trace-context.js';
import { callerOf } from '../mcp/caller.js';
import { ErrorCode } from '../mcp/jsonrpc.js';
import type { WorkerSource } from '../mcp/pool.js';
import type { Router } from '../mcp/router.js';
import type { ToolPolicy } from '../mcp/tool-policy.js';
import { BodyError, jsonBodyProblem, type BodyReader } from './body.js';
import { sendJson } from './reply.js';

type Validate = (input: unknown) => { valid: boolean; errorMessage?: string };
type Validator = { validate: Validate } | { broken: string };

/** JSON-RPC error codes from the server or the sidecar, as HTTP statuses a REST client expects. */
function statusForError(code: number): number {
  switch (code) {
    case ErrorCode.InvalidParams:
      return 400;
    case ErrorCode.MethodNotFound:
      return 404;
    case ErrorCode.RequestTimeout:
      return 504;
    case ErrorCode.ServerUnavailable:
    case ErrorCode.Overloaded:
      return 503;
    default:
      return 502;
  }
}

/** 503 while no server process is ready: why, and when to retry (GET /tools, POST /tools/:name, /openapi.json). */
export function sendNotReady(res: Response, workers: WorkerSource): void {
  const { reason, retryAfterSeconds } = workers.unavailable();
  sendJson(res, 503, { error: `the MCP server is not ready: ${reason}` }, { 'retry-after': String(retryAfterSeconds) });
}

export class RestTools {
  /** Loaded on the first REST call: a sidecar used only over /mcp never pays ajv's memory. */
  private ajv?: Promise<() => AjvJsonSchemaValidator>;
  /**
   * The tools' validators by name, for the tool list of `validatorsHash` only: a new list (list_changed, a
   * restart) starts afresh, so neither they nor the schemas ajv keeps grow with every list the server ever had.
   */
  private validators = new Map<string, Validator>();
  private validatorsHash = '';

  constructor(
    private readonly router: Router,
    private readonly workers: WorkerSource,
    private readonly body: BodyReader,
    /** How long clients and gateways may cache GET /tools (--list-ttl), as for modern list results. */
    private readonly listTtlMs: number,
    /** Which tools exist for the caller of a request (--tool-scope; the profile already left out the rest). */
    private readonly policy: ToolPolicy,
  ) {}

  list = async (req: Request, res: Response): Promise<void> => {
    await this.router.stateless.available();
    const worker = this.workers.anyWorker();
    if (!worker) return sendNotReady(res, this.workers);
    // A list that depends on the caller's token must not be kept by a shared cache (a gateway) for others.
    const scope = this.policy.scoped ? 'private' : 'public';
    sendJson(
      res,
      200,
      { tools: this.policy.filterFor(worker.profile.tools, callerOf(req)) },
      { 'cache-control': `${scope}, max-age=${Math.floor(this.listTtlMs / 1000)}` },
    );
  };

  call = async (req: Request, res: Response): Promise<void> => {
    const name = String(req.params.name);
    const unreadable = jsonBodyProblem(req);
    if (unreadable) {
      return sendJson(res, 415, {
        error: `${unreadable}; send the tool arguments as a JSON object with Content-Type: application/json`,
      });
    }
    let args: unknown;
    try {
      args = (await this.body.readJson(req)).value ?? {};
    } catch (err) {
      if (!(err instanceof BodyError)) throw err;
      return sendJson(res, err.status, { error: err.message }, err.headers);
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) {
      return sendJson(res, 400, { error: 'the body must be a JSON object of tool arguments, e.g. {"message": "hi"}' });
    }
    await this.router.stateless.available();
    const worker = this.workers.anyWorker();
    if (!worker) return sendNotReady(res, this.workers);
    const caller = callerOf(req);
    const tools = this.policy.filterFor(worker.profile.tools, caller);
    const tool = tools.find((t) => t.name === name);
    if (!tool) {
      return sendJson(res, 404, {
        error: `unknown tool "${name}"; GET /tools lists the tools`,
        tools: tools.map((t) => t.name),
      });
    }
    const validator = await this.validator(worker.profile.toolsHash, tool);
    if ('broken' in validator) {
      return sendJson(res, 502, {
        error: `the MCP server's inputSchema of "${name}" cannot be compiled, so its arguments cannot be checked: ${validator.broken}`,
      });
    }
    const check = validator.validate(args);
    if (!check.valid) {
      return sendJson(res, 400, {
        error: `arguments do not match the inputSchema of "${name}": ${check.errorMessage}`,
      });
    }
    const message = { method: 'tools/call', params: { name, arguments: args } };
    carryTraceContext(req, message);
    const response = await this.router.stateless.restCall(message.method, message.params, caller);
    if (response.error) {
      const headers: Record<string, string> = {};
      const retry = (response.error.data as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
      if (retry !== undefined) headers['retry-after'] = String(retry);
      return sendJson(
        res,
        statusForError(response.error.code),
        { error: response.error.message, code: response.error.code, data: response.error.data },
        headers,
      );
    }
    sendJson(res, 200, response.result);
  };

  private async validator(toolsHash: string, tool: Tool): Promise<Validator> {
    this.ajv ??= loadAjv();
    const newValidator = await this.ajv;
    if (toolsHash !== this.validatorsHash) {
      this.validators = new Map();
      this.validatorsHash = toolsHash;
    }
    let validator = this.validators.get(tool.name);
    if (!validator) {
      try {
        // One ajv per tool (~24 KB, made on its first REST call): ajv keeps schemas by `$id`, so two tools (or
        // two versions of one) with the same `$id` would otherwise be checked against the first one compiled.
        validator = { validate: newValidator().getValidator(tool.inputSchema as never) as Validate };
      } catch (err) {
        // The server's schema, not the sidecar, is at fault (a bad `$ref` or `$id`, a `$ref` cycle).
        validator = { broken: (err as Error).message };
      }
      this.validators.set(tool.name, validator);
    }
    return validator;
  }
}

/**
 * The SDK's validator over an ajv set up as the SDK sets it up, with `ownProperties`: a schema naming `constructor`
 * or `toString` must not find Object.prototype's functions in the arguments (`{}` would then fail `type: number`,
 * or pass `required: ["toString"]`). Loaded on the first REST call.
 */
async function loadAjv(): Promise<() => AjvJsonSchemaValidator> {
  const [{ AjvJsonSchemaValidator: Validator }, { Ajv }, formats] = await Promise.all([
    import('@modelcontextprotocol/sdk/validation/ajv'),
    import('ajv'),
    import('ajv-formats'),
  ]);
  const addFormats = formats.default as unknown as (ajv: InstanceType<typeof Ajv>) => void;
  return () => {
    const ajv = new Ajv({
      strict: false,
      validateFormats: true,
      validateSchema: false,
      allErrors: true,
      ownProperties: true,
    });
    addFormats(ajv);
    return new Validator(ajv);
  };
}
