/**
 * Which registries this instance is published to, from the configuration. Each publisher module is loaded
 * only when configured, so a sidecar without a registry carries none of their code.
 */
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Instance, Publisher } from './publisher.js';

export async function publishersFor(config: Config, instance: Instance, log: Logger): Promise<Publisher[]> {
  const publishers: Publisher[] = [];
  const host = instance.advertiseHost.includes(':') ? `[${instance.advertiseHost}]` : instance.advertiseHost;
  if (config.consul) {
    const { consulPublisher } = await import('./consul.js');
    publishers.push(
      consulPublisher(
        { ...config.consul, readyzUrl: `http://${host}:${instance.advertisePort}/readyz` },
        instance,
        log.child({ publisher: 'consul' }),
      ),
    );
  }
  if (config.kong) {
    const { kongPublisher } = await import('./kong.js');
    publishers.push(kongPublisher(config.kong, instance, log.child({ publisher: 'kong' })));
  }
  return publishers;
}
