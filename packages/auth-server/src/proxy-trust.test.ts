import { describe, expect, test } from '@jest/globals';
import Koa from 'koa';
import request from 'supertest';
import { proxyTrust } from './proxy-trust.js';

function app(trustProxy: number) {
  const koa = new Koa();
  koa.use(proxyTrust(koa, 'https://portal.example.org/auth', trustProxy));
  koa.use((ctx) => {
    ctx.body = { ip: ctx.ip, protocol: ctx.protocol, host: ctx.host };
  });
  return koa.callback();
}

describe('proxyTrust (TRUST_PROXY)', () => {
  test('no trusted proxy: X-Forwarded-For is ignored, the socket address counts', async () => {
    const res = await request(app(0)).get('/').set('X-Forwarded-For', '203.0.113.9');
    expect(res.body.ip).toMatch(/127\.0\.0\.1|::1/);
  });

  test('one trusted proxy: the address it saw (the last entry), not what the client wrote before it', async () => {
    const res = await request(app(1)).get('/').set('X-Forwarded-For', '198.51.100.1, 203.0.113.9');
    expect(res.body.ip).toBe('203.0.113.9');
  });

  test('two trusted proxies: two entries back', async () => {
    const res = await request(app(2)).get('/').set('X-Forwarded-For', '198.51.100.1, 203.0.113.9, 10.0.0.2');
    expect(res.body.ip).toBe('203.0.113.9');
  });

  test('host and scheme come from configuration, never from the request', async () => {
    const res = await request(app(1)).get('/').set('X-Forwarded-Host', 'evil.example').set('X-Forwarded-Proto', 'http');
    expect(res.body).toMatchObject({ protocol: 'https', host: 'portal.example.org' });
  });
});
