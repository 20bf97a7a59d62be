<?php
// itemstore: a small item store over HTTP, served by PHP's built-in server, kept in MariaDB.
//
//   GET  /                 200, an HTML page with the release and the number of items
//   GET  /health           200 "ok" when the database answers and its schema is there
//   GET  /items            200, JSON list of the 20 newest items (newest first)
//   GET  /items?search=T   200, JSON list of the 20 newest items whose name contains T: [] when none does
//   POST /items            {"name": "..."}: 201 {"id": <int>, "name": ...} with Location: /items/<id>,
//                          once the INSERT has committed; 400 on a bad body
//   GET  /items/<id>       200 with the item as JSON, 404 when there is none (or <id> is no id)
//   GET  /stats            200 {"ok": true, "items": N, "release": R}; when the database fails,
//                          200 {"ok": false, "error": "database unavailable"}
//   GET  /setup            200, an HTML page that says whether the database is ready, and why not
//
// While the database is not ready (not reachable, or the table `items` missing), every request
// except /stats and /setup answers 302 to /setup. Every answer carries X-Itemstore-Release.
//
// Configuration: DB_HOST, DB_PORT, DB_USER, DB_PASSWORD, DB_NAME; RELEASE.

declare(strict_types=1);

const LIST_LIMIT = 20;
const MAX_BODY = 65536;
const MAX_NAME = 255;
const NOT_READY = ['unreachable' => 'The database cannot be reached.',
                   'schema' => 'The database answers, but the table `items` is missing.'];

function release(): string
{
    return getenv('RELEASE') ?: 'dev';
}

/** Sends one answer: status, type, the release header, extra headers, body. */
function answer(int $status, string $type, string $body, array $headers = []): void
{
    http_response_code($status);
    header("Content-Type: $type");
    header('X-Itemstore-Release: ' . release());
    foreach ($headers as $name => $value) {
        header("$name: $value");
    }
    echo $body;
}

function answer_json(int $status, mixed $value, array $headers = []): void
{
    answer($status, 'application/json', json_encode($value, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE
        | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR), $headers);
}

function answer_html(int $status, string $title, string $content, array $headers = []): void
{
    $title = htmlspecialchars($title);
    answer($status, 'text/html; charset=utf-8',
        "<!doctype html>\n<html><head><title>$title</title></head>\n<body><h1>$title</h1>\n$content\n</body></html>\n",
        $headers);
}

/** A new connection; a mysqli_sql_exception when the server is not reached within 1 s or does not answer within 2 s. */
function connect(): mysqli
{
    mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
    $db = mysqli_init();
    $db->options(MYSQLI_OPT_CONNECT_TIMEOUT, 1);
    $db->options(MYSQLI_OPT_READ_TIMEOUT, 2);
    // @: the failure is the exception below; PHP's own warning about it would be a second log line.
    @$db->real_connect(getenv('DB_HOST') ?: 'db', getenv('DB_USER') ?: 'itemstore',
        getenv('DB_PASSWORD') ?: 'itemstore', getenv('DB_NAME') ?: 'itemstore', (int) (getenv('DB_PORT') ?: 3306));
    $db->set_charset('utf8mb4');
    return $db;
}

/** [connection, null] when the database is ready, else [null, a key of NOT_READY]. */
function ready(): array
{
    try {
        $db = connect();
    } catch (mysqli_sql_exception $error) {
        error_log('itemstore: database unreachable: ' . $error->getMessage());
        return [null, 'unreachable'];
    }
    try {
        $db->query('SELECT 1 FROM items LIMIT 0');
        return [$db, null];
    } catch (mysqli_sql_exception $error) {
        error_log('itemstore: database not ready: ' . $error->getMessage());
        return [null, $error->getCode() === 1146 ? 'schema' : 'unreachable'];
    }
}

function item(array $row): array
{
    return ['id' => (int) $row['id'], 'name' => $row['name']];
}

function home(mysqli $db): void
{
    $count = (int) $db->query('SELECT COUNT(*) FROM items')->fetch_row()[0];
    answer_html(200, 'itemstore ' . release(), "<p>Items stored: $count.</p>");
}

/** The newest items, those whose name contains $search when it is given. */
function list_items(mysqli $db, ?string $search): void
{
    if ($search === null) {
        $statement = $db->prepare('SELECT id, name FROM items ORDER BY id DESC LIMIT ' . LIST_LIMIT);
    } else {
        $statement = $db->prepare("SELECT id, name FROM items WHERE name LIKE ? ESCAPE '!' ORDER BY id DESC LIMIT "
            . LIST_LIMIT);
        $pattern = '%' . strtr($search, ['!' => '!!', '%' => '!%', '_' => '!_']) . '%';
        $statement->bind_param('s', $pattern);
    }
    $statement->execute();
    answer_json(200, array_map('item', $statement->get_result()->fetch_all(MYSQLI_ASSOC)));
}

function create_item(mysqli $db): void
{
    $input = json_decode((string) file_get_contents('php://input', false, null, 0, MAX_BODY), true);
    $name = is_array($input) ? ($input['name'] ?? null) : null;
    if (!is_string($name) || $name === '' || strlen($name) > MAX_NAME) {
        answer_json(400, ['error' => 'the body must be JSON with a "name" of 1 to ' . MAX_NAME . ' bytes']);
        return;
    }
    $statement = $db->prepare('INSERT INTO items (name) VALUES (?)');
    $statement->bind_param('s', $name);
    $statement->execute(); // autocommit: committed (and on disk) when this returns
    $id = (int) $db->insert_id;
    answer_json(201, ['id' => $id, 'name' => $name], ['Location' => "/items/$id"]);
}

function show_item(mysqli $db, string $id): void
{
    $statement = $db->prepare('SELECT id, name FROM items WHERE id = ?');
    $statement->bind_param('s', $id);
    $statement->execute();
    $row = $statement->get_result()->fetch_assoc();
    $row === null ? answer_json(404, ['error' => 'no such item']) : answer_json(200, item($row));
}

/** Counts the items; a failing database is reported in a 200 body, never in the status. */
function stats(): void
{
    try {
        $count = (int) connect()->query('SELECT COUNT(*) FROM items')->fetch_row()[0];
        answer_json(200, ['ok' => true, 'items' => $count, 'release' => release()]);
    } catch (mysqli_sql_exception $error) {
        error_log('itemstore: stats: ' . $error->getMessage());
        answer_json(200, ['ok' => false, 'error' => 'database unavailable']);
    }
}

function setup(): void
{
    [$db, $why] = ready();
    $state = $why === null ? '<p>The database is ready. <a href="/">Go to the items.</a></p>'
        : '<p>' . NOT_READY[$why] . '</p><p>This page is shown until the database server answers and holds the'
          . ' table <code>items</code> (the database image creates it on its first start).</p>';
    answer_html(200, 'itemstore setup', $state);
}

/** The `search` query parameter, when it is one string. */
function search_text(): ?string
{
    $search = $_GET['search'] ?? null;
    return is_string($search) ? $search : null;
}

/** The pages that need a ready database. */
function route(mysqli $db, string $method, string $path): void
{
    $item = preg_match('#^/items/([1-9][0-9]{0,18})$#', $path, $match) ? $match[1] : null;
    match (true) {
        $path === '/' && $method === 'GET' => home($db),
        $path === '/health' && $method === 'GET' => answer(200, 'text/plain', 'ok'),
        $path === '/items' && $method === 'GET' => list_items($db, search_text()),
        $path === '/items' && $method === 'POST' => create_item($db),
        $item !== null && $method === 'GET' => show_item($db, $item),
        in_array($path, ['/', '/health', '/items'], true) || $item !== null =>
            answer_json(405, ['error' => "$method is not allowed here"]),
        default => answer_json(404, ['error' => 'not found']),
    };
}

function main(): void
{
    $method = $_SERVER['REQUEST_METHOD'];
    $path = (string) parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
    if ($path === '/setup') {
        setup();
        return;
    }
    if ($path === '/stats') {
        stats();
        return;
    }
    [$db, $why] = ready();
    if ($db === null) {
        answer_html(302, 'Found', '<p>The database is not ready: see <a href="/setup">/setup</a>.</p>',
            ['Location' => '/setup']);
        return;
    }
    try {
        route($db, $method, $path);
    } catch (mysqli_sql_exception $error) { // the database failed after the readiness check
        error_log("itemstore: $method $path: " . $error->getMessage());
        answer_json(503, ['error' => 'database unavailable']);
    }
}

main();
