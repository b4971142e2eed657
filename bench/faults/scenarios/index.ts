/** Every row of the fault table, in the order it prints: the defects first, then the operator's faults. */
import type { FaultScenario } from '../fault-run.js';
import { batchFlood } from './batch-flood.js';
import { childCrash } from './child-crash.js';
import { childGarbage } from './child-garbage.js';
import { childHang } from './child-hang.js';
import { consulRestart } from './consul-restart.js';
import { deepReply } from './deep-reply.js';
import { deepRequestKill } from './deep-request-kill.js';
import { exitInInitialize } from './exit-in-initialize.js';
import { invalidEnvelope } from './invalid-envelope.js';
import { isolatedMaxSessions } from './isolated-max-sessions.js';
import { originBypass } from './origin-bypass.js';
import { oversizeReply } from './oversize-reply.js';
import { sessionFloodShared } from './session-flood.js';
import { sigkillSidecar } from './sigkill-sidecar.js';
import { sigtermUnderLoad } from './sigterm-under-load.js';
import { slowReaders } from './slow-readers.js';
import { spawnFailure } from './spawn-failure.js';
import { sseNoRead } from './sse-no-read.js';
import { unfinishedBodies } from './unfinished-bodies.js';

export const SCENARIOS: FaultScenario[] = [
  deepRequestKill,
  deepReply,
  originBypass,
  isolatedMaxSessions,
  batchFlood,
  sseNoRead,
  unfinishedBodies,
  invalidEnvelope,
  sigkillSidecar,
  childCrash,
  childHang,
  childGarbage,
  oversizeReply,
  exitInInitialize,
  spawnFailure,
  consulRestart,
  sigtermUnderLoad,
  sessionFloodShared,
  slowReaders,
];
