<?php
// kagi as the one service provider, named by its public URL (the same KAGI_PUBLIC_URL kagi runs with).
$kagi = rtrim((string) getenv('KAGI_PUBLIC_URL'), '/');
$metadata[$kagi . '/auth/saml/metadata'] = [
    'AssertionConsumerService' => [
        ['Binding' => 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST', 'Location' => $kagi . '/auth/saml/acs'],
    ],
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'User.email',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'saml20.sign.assertion' => true,
    'saml20.sign.response' => true,
    // AuthnRequests are not signature-checked: whatever they say, responses go only to the ACS URL above.
    'validate.authnrequest' => false,
];
