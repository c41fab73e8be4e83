<?php
// SimpleSAMLphp 1.19 (Debian bookworm's package) as a trial IdP for kagi: see deploy/simplesamlphp/Dockerfile.
// Everything that differs between the container and the test (test/deploy/topology.test.ts) comes from the environment.
$need = function (string $name): string {
    $value = getenv($name);
    if ($value === false || $value === '') {
        throw new Exception("$name is not set (see deploy/simplesamlphp/Dockerfile)");
    }
    return $value;
};
$state = rtrim($need('IDP_STATE_DIR'), '/');
$config = [
    // The URL browsers reach this IdP by, with a trailing slash, e.g. http://127.0.0.1:8080/
    'baseurlpath' => $need('IDP_BASE_URL'),
    'certdir' => $state . '/cert/',
    'loggingdir' => $state . '/log/',
    'datadir' => $state . '/data/',
    'tempdir' => $state . '/tmp',
    'metadatadir' => __DIR__ . '/../metadata/',
    'metadata.sources' => [['type' => 'flatfile']],
    // Stable across requests (php -S workers each read this file) and secret: derived from the IdP's key.
    'secretsalt' => hash_file('sha256', $need('IDP_KEY_FILE')),
    // The admin pages are not used: a random password nobody knows.
    'auth.adminpassword' => bin2hex(random_bytes(16)),
    'technicalcontact_name' => 'kagi trial',
    'technicalcontact_email' => 'na@example.org',
    'timezone' => 'UTC',
    'enable.saml20-idp' => true,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true],
    'logging.level' => SimpleSAML\Logger::NOTICE,
    'logging.handler' => 'errorlog',
    'showerrors' => false,
    'store.type' => 'phpsession',
    'session.phpsession.savepath' => $state . '/sessions',
    // The trial IdP is plain http on loopback; kagi itself is https behind nginx.
    'session.cookie.secure' => false,
    'session.cookie.samesite' => null,
    'language.cookie.secure' => false,
    'language.cookie.samesite' => null,
];
