<?php
// Two trial users with OneLogin's attribute names (User.email, User.FirstName, User.LastName, memberOf).
// alice is in "VPN Admins" (docker-compose.yml sets KAGI_SAML_ADMIN_GROUPS to it). Trial only: the
// passwords are in the README, which is why the IdP is published on 127.0.0.1 alone.
$config = [
    'admin' => ['core:AdminPassword'],
    'trial-users' => [
        'exampleauth:UserPass',
        'alice:alice-pass' => [
            'User.email' => ['alice@example.com'],
            'User.FirstName' => ['Alice'],
            'User.LastName' => ['Example'],
            'memberOf' => ['Employees', 'VPN Admins'],
        ],
        'bob:bob-pass' => [
            'User.email' => ['bob@example.com'],
            'User.FirstName' => ['Bob'],
            'User.LastName' => ['Example'],
            'memberOf' => ['Employees'],
        ],
    ],
];
