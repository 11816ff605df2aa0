/**
 * The API stand-in's access log (simulations/kube/access-log.ts), which the RBAC test reads:
 * each HTTP request becomes the attributes kube-apiserver would authorize — verb, API group,
 * resource, namespace, name (from the path, or a `metadata.name` field selector), user (from a
 * bearer token) — and a refused token gets 401 on the main listener.
 */
import { expect } from 'chai';
import { AccessLog, requestAttributes, requestUser } from '../../simulations/kube/access-log.js';
import { parseResourcePath } from '../../simulations/kube/resources.js';
import { KubeApiStandin } from '../../simulations/kube/server.js';

function attrs(method: string, url: string): Record<string, unknown> {
  const u = new URL(url, 'http://x');
  return { ...requestAttributes(method, u, parseResourcePath(u.pathname), 'u', 'main') };
}

describe('deploy: the API stand-in’s access log', function () {
  this.timeout(20_000);

  it('records what RBAC authorizes: verb, group, resource, namespace, name', () => {
    const cases: [string, string, Record<string, unknown>][] = [
      ['GET', '/api/v1/services', { verb: 'list', apiGroup: '', resource: 'services' }],
      ['GET', '/api/v1/services?watch=1&resourceVersion=5', { verb: 'watch', resource: 'services' }],
      ['GET', '/api/v1/namespaces/default/services/web', { verb: 'get', namespace: 'default', name: 'web' }],
      ['GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dnode-1', { verb: 'list', resource: 'nodes', name: 'node-1' }],
      ['GET', '/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Dnode-1', { verb: 'watch', name: 'node-1' }],
      ['GET', '/api/v1/nodes?fieldSelector=metadata.name%3Dnode-1,spec.unschedulable%3Dfalse', { verb: 'list', name: undefined }],
      ['GET', '/apis/discovery.k8s.io/v1/endpointslices?limit=2', { verb: 'list', apiGroup: 'discovery.k8s.io', apiVersion: 'v1', resource: 'endpointslices' }],
      ['POST', '/api/v1/namespaces/default/services', { verb: 'create', namespace: 'default' }],
      ['PUT', '/api/v1/namespaces/default/services/web', { verb: 'update', name: 'web' }],
      ['PATCH', '/api/v1/namespaces/default/services/web', { verb: 'patch' }],
      ['DELETE', '/api/v1/namespaces/default/services/web', { verb: 'delete' }],
      ['DELETE', '/api/v1/namespaces/default/services', { verb: 'deletecollection' }],
      ['GET', '/version', { verb: 'get', nonResourceURL: '/version', resource: undefined }],
    ];
    for (const [method, url, expected] of cases) {
      const got = attrs(method, url);
      for (const [k, v] of Object.entries(expected)) expect(got[k], `${method} ${url}: ${k}`).to.deep.equal(v);
    }
  });

  it('authenticates bearer tokens: a table maps them to users, unknown ones are refused', () => {
    const tokens = new Map([['t1', 'system:serviceaccount:ns:sa']]);
    expect(requestUser(undefined, tokens)).to.equal('system:anonymous');
    expect(requestUser('Bearer t1', tokens)).to.equal('system:serviceaccount:ns:sa');
    expect(requestUser('Bearer nope', tokens)).to.equal(undefined);
    expect(requestUser('Bearer t1')).to.match(/^token:[0-9a-f]{12}$/);
    expect(requestUser('Basic abc', tokens)).to.equal('system:anonymous');
  });

  it('counts repeats, and beyond its bound counts only what it drops', () => {
    const log = new AccessLog(2);
    const a = { listener: 'main' as const, user: 'u', verb: 'list', apiGroup: '', resource: 'services' };
    log.record(a);
    log.record(a);
    log.record({ ...a, resource: 'nodes' });
    log.record({ ...a, resource: 'pods' });
    const s = log.snapshot();
    expect(s.total).to.equal(4);
    expect(s.dropped).to.equal(1);
    expect(s.entries.map((e) => [e.resource, e.count, e.first, e.last])).to.deep.equal([
      ['services', 2, 1, 2],
      ['nodes', 1, 3, 3],
    ]);
  });

  it('serves the log over HTTP and refuses a bad token on the main listener only', async () => {
    const api = new KubeApiStandin({ tokens: new Map([['good', 'alice']]) });
    try {
      const main = `http://127.0.0.1:${await api.listen('127.0.0.1', 0)}`;
      const admin = `http://127.0.0.1:${await api.listenAdmin('127.0.0.1', 0)}`;
      expect((await fetch(`${main}/api/v1/services`, { headers: { authorization: 'Bearer good' } })).status).to.equal(200);
      expect((await fetch(`${main}/api/v1/services`, { headers: { authorization: 'Bearer bad' } })).status).to.equal(401);
      expect((await fetch(`${admin}/api/v1/services`, { headers: { authorization: 'Bearer bad' } })).status).to.equal(200);
      const log = (await (await fetch(`${main}/_standin/access`)).json()) as { entries: { listener: string; user: string; verb: string; count: number }[] };
      expect(log.entries.map((e) => `${e.listener} ${e.user} ${e.verb} ${e.count}`)).to.deep.equal(['main alice list 1', 'main (invalid token) list 1', 'admin (invalid token) list 1']);
    } finally {
      await api.close();
    }
  });
});
