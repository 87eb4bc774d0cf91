/**
 * The foundation's checkout scenario over HTTP with MongoDB as the read store, reached through
 * the official driver on the wire-protocol stand-in; everything else embedded.
 */
import { checkoutScenario } from '../support/checkout-scenario.js';
import { startEmbedded } from '../support/embedded.js';
import { startMongoStandin } from '../support/mongo-standin/server.js';

checkoutScenario('MongoDB read store (wire-protocol stand-in), otherwise embedded', async () => {
  const standin = await startMongoStandin();
  try {
    const server = await startEmbedded({
      STREAMFOLD_READSTORE_URL: `${standin.url}/streamfold_e2e`,
    });
    return {
      url: server.url,
      async stop() {
        try {
          await server.stop();
        } finally {
          await standin.stop();
        }
      },
    };
  } catch (error) {
    await standin.stop();
    throw error;
  }
});
