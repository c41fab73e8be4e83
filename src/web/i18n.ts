/** Languages of the enrollment page. */
export type Lang = 'en' | 'ja'
export const langs: readonly Lang[] = ['en', 'ja']

/**
 * The language for a request: an explicit choice (the switch sets a cookie)
 * wins, else the first supported language in Accept-Language (RFC 9110
 * §12.5.4, by quality), else English.
 */
export function chooseLang(acceptLanguage: string | undefined, chosen: string | undefined): Lang {
  if (chosen === 'en' || chosen === 'ja') return chosen
  const ranked = (acceptLanguage ?? '')
    .split(',')
    .map((part, index) => {
      const [tag, ...params] = part.trim().toLowerCase().split(';')
      const q = params.map((p) => /^\s*q=([\d.]+)/.exec(p)?.[1]).find(Boolean)
      return { tag: tag ?? '', q: q === undefined ? 1 : Number(q), index }
    })
    .filter((entry) => entry.tag && entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
  for (const { tag } of ranked) {
    const primary = tag.split('-')[0]
    if (primary === 'ja' || primary === 'en') return primary
  }
  return 'en'
}

const en = {
  title: 'Device certificates',
  tagline: 'Get the certificate that lets this device connect to the VPN.',
  signIn: 'Sign in with OneLogin',
  signInHint: 'You will sign in with your company account and MFA.',
  devSignInTitle: 'Development sign-in',
  devSignInWarning: 'SAML is not configured, so this local development instance accepts any email. Never use this in production.',
  email: 'Email',
  makeAdmin: 'Sign in as an admin',
  signInButton: 'Sign in',
  signOut: 'Sign out',
  signedInAs: 'Signed in as',
  adminLink: 'Admin pages',
  enrollTitle: 'Enroll this device',
  platform: 'Platform',
  detected: 'detected',
  deviceName: 'Device name',
  deviceNameHint: 'A name you will recognize, such as “MacBook Pro 14”.',
  certificateType: 'Certificate',
  typeUser: 'For me on this device (user certificate)',
  typeDevice: 'For this computer (machine certificate, for pre-logon)',
  hostname: 'Computer host name',
  hostnameHint: 'Needed for a machine certificate, such as alice-mbp.corp.example.com.',
  enrollButton: 'Enroll and download',
  devicesTitle: 'Your devices',
  noDevices: 'No devices yet. Enroll this one above.',
  serial: 'Serial',
  status: 'Status',
  expires: 'Expires',
  active: 'active',
  revoked: 'revoked',
  expired: 'expired',
  downloadAgain: 'Download again',
  downloadAgainHint: 'A new certificate replaces the current one.',
  lostTitle: 'I lost this device',
  lostConfirm: 'Yes, revoke every certificate of this device. It will no longer connect.',
  lostButton: 'Revoke',
  lostDone: 'Revoked {count} certificate(s) of {device}. The device can no longer connect.',
  lostNothing: '{device} had no active certificates.',
  readyTitle: 'Your certificate is ready',
  readyDownload: 'Download {file}',
  readyAuto: 'The download starts by itself. If it does not, use the link.',
  passwordLabel: 'One-time certificate password (you need it once, when installing):',
  installTitle: 'Install it',
  back: 'Back to your devices',
  sessionExpired: 'Your session ended. Sign in again.',
  signInFailed: 'Sign-in failed',
  errorTitle: 'That did not work',
  signInFailedHelp: 'Try again. If it keeps failing, contact the IT help desk and mention the time.',
  tryAgain: 'Sign in again',
  notConfigured: 'Sign-in is not configured on this server. An administrator must set KAGI_SAML_IDP_METADATA.',
  formError: 'Please check the form',
  notFound: 'There is no page at this address. Check the link, or start from the device page.',
  formExpired: 'This form has expired. Go back, reload the page and try again.',
  tooMany: 'Too many attempts. Wait a minute and try again.',
  tooLarge: 'What was sent is too large.',
  goHome: 'Go to the device page',
  language: 'Language',
  instructionsTitle: 'Installation steps for every platform',
  noPortal: 'No GlobalProtect portal is configured (KAGI_GP_PORTAL); enter the portal address your IT team gave you in GlobalProtect.',
} as const

export type MessageKey = keyof typeof en

const ja: Record<MessageKey, string> = {
  title: 'デバイス証明書',
  tagline: 'このデバイスを VPN に接続するための証明書を取得します。',
  signIn: 'OneLogin でサインイン',
  signInHint: '会社のアカウントと多要素認証でサインインします。',
  devSignInTitle: '開発用サインイン',
  devSignInWarning: 'SAML が設定されていないため、このローカル開発環境では任意のメールアドレスでサインインできます。本番環境では絶対に使用しないでください。',
  email: 'メールアドレス',
  makeAdmin: '管理者としてサインイン',
  signInButton: 'サインイン',
  signOut: 'サインアウト',
  signedInAs: 'サインイン中:',
  adminLink: '管理ページ',
  enrollTitle: 'このデバイスを登録',
  platform: 'プラットフォーム',
  detected: '自動検出',
  deviceName: 'デバイス名',
  deviceNameHint: '「MacBook Pro 14」など、見て分かる名前を付けてください。',
  certificateType: '証明書の種類',
  typeUser: 'このデバイスで使う自分用(ユーザー証明書)',
  typeDevice: 'このコンピューター用(マシン証明書、プレログオン用)',
  hostname: 'コンピューターのホスト名',
  hostnameHint: 'マシン証明書に必要です(例: alice-mbp.corp.example.com)。',
  enrollButton: '登録してダウンロード',
  devicesTitle: 'あなたのデバイス',
  noDevices: 'まだデバイスがありません。上のフォームからこのデバイスを登録してください。',
  serial: 'シリアル',
  status: '状態',
  expires: '有効期限',
  active: '有効',
  revoked: '失効済み',
  expired: '期限切れ',
  downloadAgain: 'もう一度ダウンロード',
  downloadAgainHint: '新しい証明書が現在の証明書に置き換わります。',
  lostTitle: 'このデバイスを紛失した',
  lostConfirm: 'はい、このデバイスのすべての証明書を失効させます。このデバイスは接続できなくなります。',
  lostButton: '失効させる',
  lostDone: '{device} の証明書を {count} 件失効させました。このデバイスは接続できなくなりました。',
  lostNothing: '{device} に有効な証明書はありませんでした。',
  readyTitle: '証明書の準備ができました',
  readyDownload: '{file} をダウンロード',
  readyAuto: 'ダウンロードは自動で始まります。始まらない場合はリンクを使ってください。',
  passwordLabel: '証明書のワンタイムパスワード(インストール時に一度だけ必要です):',
  installTitle: 'インストール手順',
  back: 'デバイス一覧に戻る',
  sessionExpired: 'セッションが終了しました。もう一度サインインしてください。',
  signInFailed: 'サインインに失敗しました',
  errorTitle: '処理できませんでした',
  signInFailedHelp: 'もう一度お試しください。繰り返し失敗する場合は、時刻を添えて IT ヘルプデスクに連絡してください。',
  tryAgain: 'もう一度サインイン',
  notConfigured: 'このサーバーではサインインが設定されていません。管理者が KAGI_SAML_IDP_METADATA を設定する必要があります。',
  formError: '入力内容を確認してください',
  notFound: 'このアドレスのページはありません。リンクを確認するか、デバイスのページから始めてください。',
  formExpired: 'このフォームは期限切れです。前のページに戻り、再読み込みしてからもう一度お試しください。',
  tooMany: '試行回数が多すぎます。1 分ほど待ってからもう一度お試しください。',
  tooLarge: '送信された内容が大きすぎます。',
  goHome: 'デバイスのページへ',
  language: '言語',
  instructionsTitle: '各プラットフォームのインストール手順',
  noPortal: 'GlobalProtect ポータルが設定されていません(KAGI_GP_PORTAL)。IT 部門から案内されたポータルのアドレスを GlobalProtect に入力してください。',
}

const messages: Record<Lang, Record<MessageKey, string>> = { en, ja }

/** A message in the language, with {name} placeholders filled (values are escaped by the caller's template). */
export function translate(lang: Lang, key: MessageKey, params: Record<string, string | number> = {}): string {
  return fillPlaceholders(messages[lang][key], params)
}

/** A message with its {name} placeholders filled (an unknown name stays as it is). */
export function fillPlaceholders(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`))
}
