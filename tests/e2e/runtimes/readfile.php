<?php
// php -S router: readfile() of the requested file next to this script (issue 11):
// small files are mmapped and sent as one copy, large ones read and sent in 8 KiB chunks.
$f = __DIR__ . '/' . basename($_SERVER['REQUEST_URI']);
header('Content-Type: application/octet-stream');
header('Content-Length: ' . filesize($f));
readfile($f);
