'use strict';
// guestbook: a small HTTP service that keeps guestbook entries in PostgreSQL.
//
//   GET  /              200, a small HTML page with the number of entries
//   GET  /status        200 "ok" when the database answers SELECT 1, else 503
//   GET  /entries       200, JSON list of the last 20 entries (newest first)
//   POST /entries       {"id": "...", "text": "..."}: 201 {"id", "created"} once
//                       the INSERT has committed (a duplicate id is a 201 too,
//                       with created false, the stored text unchanged), 400 on
//                       a bad body, 503 when the database is unavailable
//   GET  /entries/<id>  200 with the entry as JSON, 404 when there is none
//
// Configuration: the usual libpq variables PGHOST, PGPORT, PGUSER, PGPASSWORD,
// PGDATABASE; PORT (default 3000); RELEASE, shown on the HTML page only.

const http = require('http');
const { Pool } = require('pg');

const PORT = parseInt(process.env.PORT || '3000', 10);
const RELEASE = process.env.RELEASE || 'dev';
const MAX_BODY = 64 * 1024;

function log(...args) {
  console.log(new Date().toISOString(), ...args);
}

const pool = new Pool({
  host: process.env.PGHOST || 'db',
  port: parseInt(process.env.PGPORT || '5432', 10),
  user: process.env.PGUSER || 'guestbook',
  password: process.env.PGPASSWORD || 'guestbook',
  database: process.env.PGDATABASE || 'guestbook',
  max: 10,
  connectionTimeoutMillis: 1000, // a new connection gives up after 1 s
  query_timeout: 2000, // the client gives up on a query after 2 s ...
  statement_timeout: 2000, // ... and so does the server
  idleTimeoutMillis: 10000,
  keepAlive: true,
});

// An idle pooled connection that the server drops (restart, crash, network
// loss) is reported here; without a listener node would exit. The pool has
// already thrown the connection away and opens a new one when needed.
pool.on('error', (err) => {
  log('idle database connection lost:', err.message);
});

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS entries (
    id         text PRIMARY KEY,
    text       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    seq        bigserial
  )`;

let schemaReady = false;
let schemaPromise = null;

// Creates the table if it is missing; one attempt at a time.
function ensureSchema() {
  if (schemaReady) return Promise.resolve();
  if (!schemaPromise) {
    schemaPromise = pool
      .query(SCHEMA)
      .then(() => {
        if (!schemaReady) log('table entries is ready');
        schemaReady = true;
      })
      .finally(() => {
        schemaPromise = null;
      });
  }
  return schemaPromise;
}

// At startup: retry until the database answers, never exit over it.
let stopping = false;
function initSchema(attempt = 1) {
  if (stopping) return;
  ensureSchema().catch((err) => {
    if (attempt === 1 || attempt % 10 === 0) {
      log(`database not ready (attempt ${attempt}): ${err.message}`);
    }
    setTimeout(() => initSchema(attempt + 1), 1000).unref();
  });
}

// Runs a query after making sure the table exists; a missing table (the
// database was replaced under us) makes the next request create it again.
async function db(text, params) {
  await ensureSchema();
  try {
    return await pool.query(text, params);
  } catch (err) {
    if (err.code === '42P01') schemaReady = false; // undefined_table
    throw err;
  }
}

function send(res, status, body, type) {
  const buf = Buffer.from(body);
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': buf.length,
    'Cache-Control': 'no-store',
  });
  res.end(buf);
}

function sendText(res, status, text) {
  send(res, status, text + '\n', 'text/plain; charset=utf-8');
}

function sendJSON(res, status, value) {
  send(res, status, JSON.stringify(value) + '\n', 'application/json');
}

function unavailable(res, err) {
  log('database unavailable:', err.message);
  sendText(res, 503, 'database unavailable');
}

function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      if (size > MAX_BODY) return; // already answered; drop the rest
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function toEntry(row) {
  return { id: row.id, text: row.text, created_at: row.created_at };
}

async function home(req, res) {
  let count;
  try {
    const r = await db('SELECT count(*)::bigint AS n FROM entries');
    count = r.rows[0].n;
  } catch (err) {
    return unavailable(res, err);
  }
  const html = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>guestbook</title></head>
<body>
<h1>Guestbook</h1>
<p>${escapeHTML(count)} ${count === '1' ? 'entry' : 'entries'} so far.</p>
<p><small>guestbook ${escapeHTML(RELEASE)}</small></p>
</body>
</html>`;
  send(res, 200, html, 'text/html; charset=utf-8');
}

async function status(req, res) {
  try {
    await ensureSchema();
    await pool.query('SELECT 1');
  } catch (err) {
    return sendText(res, 503, 'database unavailable');
  }
  sendText(res, 200, 'ok');
}

async function listEntries(req, res) {
  try {
    const r = await db(
      'SELECT id, text, created_at FROM entries ORDER BY seq DESC LIMIT 20');
    sendJSON(res, 200, r.rows.map(toEntry));
  } catch (err) {
    unavailable(res, err);
  }
}

async function addEntry(req, res) {
  let body;
  try {
    body = await readBody(req);
  } catch (err) {
    res.setHeader('Connection', 'close');
    return sendText(res, err.status || 400, err.message);
  }
  let value;
  try {
    value = JSON.parse(body);
  } catch (err) {
    return sendText(res, 400, 'body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return sendText(res, 400, 'body must be a JSON object');
  }
  let { id, text } = value;
  if (typeof id === 'number' && Number.isFinite(id)) id = String(id);
  if (typeof id !== 'string' || id === '') {
    return sendText(res, 400, 'missing id');
  }
  if (text === undefined || text === null) text = '';
  if (typeof text !== 'string') {
    return sendText(res, 400, 'text must be a string');
  }
  try {
    // One statement in autocommit: the promise resolves only after the
    // COMMIT, which with synchronous_commit=on means it is on disk.
    const r = await db(
      'INSERT INTO entries (id, text) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
      [id, text]);
    // created is false for an id that was already there (nothing changed).
    sendJSON(res, 201, { id, created: r.rowCount === 1 });
  } catch (err) {
    unavailable(res, err);
  }
}

async function getEntry(req, res, id) {
  try {
    const r = await db(
      'SELECT id, text, created_at FROM entries WHERE id = $1', [id]);
    if (r.rows.length === 0) return sendText(res, 404, 'not found');
    sendJSON(res, 200, toEntry(r.rows[0]));
  } catch (err) {
    unavailable(res, err);
  }
}

async function handle(req, res) {
  const path = new URL(req.url, 'http://localhost').pathname;
  const method = req.method;
  if (path === '/') {
    if (method === 'GET' || method === 'HEAD') return home(req, res);
  } else if (path === '/status') {
    if (method === 'GET' || method === 'HEAD') return status(req, res);
  } else if (path === '/entries' || path === '/entries/') {
    if (method === 'GET' || method === 'HEAD') return listEntries(req, res);
    if (method === 'POST') return addEntry(req, res);
  } else if (path.startsWith('/entries/')) {
    let id;
    try {
      id = decodeURIComponent(path.slice('/entries/'.length));
    } catch (err) {
      return sendText(res, 400, 'bad id');
    }
    if (method === 'GET' || method === 'HEAD') return getEntry(req, res, id);
  } else {
    return sendText(res, 404, 'not found');
  }
  res.setHeader('Allow', path === '/entries' ? 'GET, HEAD, POST' : 'GET, HEAD');
  sendText(res, 405, 'method not allowed');
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    log('request failed:', err.stack || err);
    if (!res.headersSent) sendText(res, 500, 'internal error');
    else res.destroy();
  });
});
server.keepAliveTimeout = 5000;

server.listen(PORT, () => {
  log(`guestbook ${RELEASE} listening on port ${PORT}`);
  initSchema();
});

function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: shutting down`);
  // Give requests in flight a moment, then go whatever happens.
  setTimeout(() => process.exit(0), 3000).unref();
  server.close(() => {
    pool.end().catch(() => {}).finally(() => process.exit(0));
  });
  // Idle keep-alive connections would hold server.close() open.
  if (typeof server.closeIdleConnections === 'function') {
    server.closeIdleConnections();
  }
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
