<?php
// The IdP itself: entityID <IDP_BASE_URL>saml2/idp/metadata.php (KAGI_SAML_IDP_ISSUER in docker-compose.yml).
$metadata['__DYNAMIC:1__'] = [
    'host' => '__DEFAULT__',
    // Absolute paths: the key and certificate are compose secrets (deploy/secrets/idp.key, idp.crt).
    'privatekey' => getenv('IDP_KEY_FILE'),
    'certificate' => getenv('IDP_CERT_FILE'),
    'auth' => 'trial-users',
    'signature.algorithm' => 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    'NameIDFormat' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
    'simplesaml.nameidattribute' => 'User.email',
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'saml20.sign.assertion' => true,
    'saml20.sign.response' => true,
];
