/**
 * The node:http server the sidecar listens with, and the limits that keep slow or hostile clients from holding
 * memory and connections.
 */
import { createServer, type RequestListener, type Server } from 'node:http';

export function createHttpServer(handler: RequestListener): Server {
  const server = createServer(handler);
  // Behind Kong or a load balancer, idle keep-alive connections must outlive the proxy's own timeout.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0; // SSE responses may stream for hours; request reading is bounded by --max-body
  return server;
}

/** Listens; rejects with an error that says what to do when the port is taken. */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is in use; pick another with --port (0 = any free port)`) : err);
    });
    server.listen(port, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/** Stops accepting, and drops the connections still open (SSE streams were ended before). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
