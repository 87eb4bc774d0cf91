import Fastify, { type onRequestHookHandler } from 'fastify';
import { describe, expect, it } from 'vitest';
import { prependRouteHook, routeServes } from '../../src/http/route-hooks.js';

describe('route hooks', () => {
  it('run only on the routes they are added to, before the routes own hooks', async () => {
    const app = Fastify();
    const seen: string[] = [];
    const mark =
      (name: string): onRequestHookHandler =>
      (request, _reply, done) => {
        seen.push(`${name} ${request.method}`);
        done();
      };
    app.addHook('onRoute', (route) => {
      if (routeServes(route, 'POST')) prependRouteHook(route, 'onRequest', mark('added'));
    });
    app.post('/one', { onRequest: mark('own') }, () => 'one');
    app.post('/many', { onRequest: [mark('own-1'), mark('own-2')] }, () => 'many');
    app.route({ method: ['GET', 'POST'], url: '/both', handler: () => 'both' });
    app.get('/query', () => 'query');

    await app.inject({ method: 'POST', url: '/one' });
    await app.inject({ method: 'POST', url: '/many' });
    await app.inject({ method: 'GET', url: '/both' });
    await app.inject({ method: 'GET', url: '/query' });
    expect(seen).toEqual([
      'added POST',
      'own POST',
      'added POST',
      'own-1 POST',
      'own-2 POST',
      'added GET',
    ]);
    await app.close();
  });
});
