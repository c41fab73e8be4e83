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
  active: 'Active',
  revoked: 'Revoked',
  expired: 'Expired',
  downloadAgain: 'Download again',
  downloadAgainHint: 'A new certificate replaces the current one.',
  lostTitle: 'I lost this device',
  lostConfirm: 'Yes, revoke every certificate of this device. It will no longer connect.',
  lostButton: 'Revoke',
  lostDone_one: 'Revoked {count} certificate of {device}. The device can no longer connect.',
  lostDone_other: 'Revoked {count} certificates of {device}. The device can no longer connect.',
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
  notConfigured: 'Sign-in is not set up on this server yet. Ask the IT help desk when it will be.',
  formError: 'Please check the form',
  notFound: 'There is no page at this address. Check the link, or start from the device page.',
  formExpired: 'This form has expired. Go back, reload the page and try again.',
  tooMany: 'Too many attempts. Wait a minute and try again.',
  tooLarge: 'What was sent is too large.',
  goHome: 'Go to the device page',
  language: 'Language',
  instructionsTitle: 'Installation steps for every platform',
  noPortal: 'GlobalProtect asks for a portal address: enter the one your IT team gave you. If you do not have it, ask the IT help desk.',
  enterEmail: 'Enter an email address, such as alice@example.com.',
  signInRefused: 'The sign-in could not be completed. Start again from this page.',
  machineOptionsHint: 'Machine certificates are for macOS and Windows computers only.',
  profile_user: 'User certificate',
  profile_device: 'Machine certificate',
  certificatesOfDevice: 'Certificates of this device',
  validUntil: 'Valid until {date}. Before then, choose “Download again” on this device and install the new file, or the VPN stops connecting.',
  validSoon: 'Expires on {date}. Choose “Download again” on this device now and install the new file, or the VPN stops connecting.',
  noValidCertificate: 'This device has no valid certificate, so it cannot connect. Choose “Download again” on this device to get a new one.',
  expiresOn: 'expires {date}',
  expiredOn: 'expired {date}',
  revokedCertificate: 'no longer valid',
  vpnCheckedToday: 'The VPN last checked this certificate today at {time} UTC.',
  vpnCheckedOn: 'The VPN last checked this certificate on {date} at {time} UTC.',
  vpnNotYet: 'The VPN has not checked this certificate yet: it does when you connect.',
  vpnNeverUsed: 'The VPN has never checked this certificate, issued more than a day ago: it may not be installed where GlobalProtect looks. Follow the steps again, or choose “Download again”.',
  readyKept: 'This page keeps the download and the password while this tab stays open, also when you switch the language or come back to it.',
  readyGone: 'The download and its password are no longer on this page (they stay only in the browser tab where you enrolled). Go back to your devices and choose “Download again” for a new one.',
  caCertificates: 'CA certificates',
  rootCaLink: 'Root CA certificate (root.crt)',
  issuingCaLink: 'Issuing CA certificate (issuing.crt)',
  formDeviceName: 'Enter a name for this device (128 characters at most).',
  formHostname: 'Enter the computer’s full host name, such as pc-1.corp.example.com (letters, digits, hyphens and dots).',
  formHostnameRequired: 'A machine certificate needs the computer’s host name, such as pc-1.corp.example.com.',
  formPlatform: 'Choose the platform of the device.',
  formKind: 'Choose which certificate you need.',
  formMachineOnly: 'Machine certificates are for macOS and Windows computers only. Choose “For me on this device”.',
  formMachineOff: 'This page does not issue machine certificates; IT installs them. Choose “For me on this device”.',
  errorDeviceNameInUse: 'You already have a device with this name. To get a new certificate for it, choose “Download again” under Your devices; to enroll another device, give it another name.',
  errorHostnameTaken: 'Another person’s computer already has this host name. Check the name; if it is right, ask the IT help desk to move it to you.',
  errorHostnameRules: 'This host name cannot go into a machine certificate. Use the computer’s full name in the company’s domain, or ask the IT help desk which name to use.',
  errorBusy: 'Another enrollment of this device is in progress. Wait a moment and try again.',
  errorNotYours: 'This is not among your devices. Go back to the device page and try again.',
  errorNotAllowed: 'You are not allowed to do this. Sign in again; if it keeps happening, ask the IT help desk.',
  errorGeneric: 'This did not work. Try again; if it keeps failing, contact the IT help desk and mention the time.',
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
  lostDone_one: '{device} の証明書を {count} 件失効させました。このデバイスは接続できなくなりました。',
  lostDone_other: '{device} の証明書を {count} 件失効させました。このデバイスは接続できなくなりました。',
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
  notConfigured: 'このサーバーではまだサインインが設定されていません。いつ使えるようになるか IT ヘルプデスクに問い合わせてください。',
  formError: '入力内容を確認してください',
  notFound: 'このアドレスのページはありません。リンクを確認するか、デバイスのページから始めてください。',
  formExpired: 'このフォームは期限切れです。前のページに戻り、再読み込みしてからもう一度お試しください。',
  tooMany: '試行回数が多すぎます。1 分ほど待ってからもう一度お試しください。',
  tooLarge: '送信された内容が大きすぎます。',
  goHome: 'デバイスのページへ',
  language: '言語',
  instructionsTitle: '各プラットフォームのインストール手順',
  noPortal: 'GlobalProtect でポータルのアドレスを聞かれたら、IT 部門から案内されたアドレスを入力してください。分からない場合は IT ヘルプデスクに問い合わせてください。',
  enterEmail: 'メールアドレスを入力してください(例: alice@example.com)。',
  signInRefused: 'サインインを完了できませんでした。このページからもう一度始めてください。',
  machineOptionsHint: 'マシン証明書は macOS と Windows のコンピューター専用です。',
  profile_user: 'ユーザー証明書',
  profile_device: 'マシン証明書',
  certificatesOfDevice: 'このデバイスの証明書',
  validUntil: '{date} まで有効です。それまでにこのデバイスで「もう一度ダウンロード」を選び、新しいファイルをインストールしてください。期限が切れると VPN に接続できなくなります。',
  validSoon: '{date} に期限が切れます。今すぐこのデバイスで「もう一度ダウンロード」を選び、新しいファイルをインストールしてください。期限が切れると VPN に接続できなくなります。',
  noValidCertificate: 'このデバイスには有効な証明書がないため接続できません。このデバイスで「もう一度ダウンロード」を選ぶと新しい証明書を取得できます。',
  expiresOn: '有効期限 {date}',
  expiredOn: '{date} に期限切れ',
  revokedCertificate: '無効',
  vpnCheckedToday: 'VPN がこの証明書を最後に確認したのは今日の {time}(UTC)です。',
  vpnCheckedOn: 'VPN がこの証明書を最後に確認したのは {date} {time}(UTC)です。',
  vpnNotYet: 'VPN はまだこの証明書を確認していません。接続すると確認されます。',
  vpnNeverUsed: 'この証明書は発行から 1 日以上たちますが、VPN が一度も確認していません。GlobalProtect が参照する場所にインストールされていない可能性があります。手順をもう一度行うか、「もう一度ダウンロード」を選んでください。',
  readyKept: 'このタブを開いている間は、言語を切り替えたり戻ってきたりしても、このページにダウンロードとパスワードが残ります。',
  readyGone: 'ダウンロードとパスワードはこのページにはもうありません(登録したブラウザーのタブにだけ残ります)。デバイス一覧に戻り、「もう一度ダウンロード」で新しいものを取得してください。',
  caCertificates: 'CA 証明書',
  rootCaLink: 'ルート CA 証明書 (root.crt)',
  issuingCaLink: '発行 CA 証明書 (issuing.crt)',
  formDeviceName: 'このデバイスの名前を入力してください(128 文字まで)。',
  formHostname: 'コンピューターの完全なホスト名を入力してください(例: pc-1.corp.example.com。英数字、ハイフン、ドットのみ)。',
  formHostnameRequired: 'マシン証明書にはコンピューターのホスト名が必要です(例: pc-1.corp.example.com)。',
  formPlatform: 'デバイスのプラットフォームを選んでください。',
  formKind: '必要な証明書の種類を選んでください。',
  formMachineOnly: 'マシン証明書は macOS と Windows のコンピューター専用です。「このデバイスで使う自分用」を選んでください。',
  formMachineOff: 'このページではマシン証明書を発行しません。IT 部門がインストールします。「このデバイスで使う自分用」を選んでください。',
  errorDeviceNameInUse: 'この名前のデバイスはすでに登録されています。そのデバイスの証明書を新しくするには「あなたのデバイス」で「もう一度ダウンロード」を選んでください。別のデバイスを登録する場合は別の名前を付けてください。',
  errorHostnameTaken: 'このホスト名は別の人のコンピューターで使われています。名前を確かめ、正しければ IT ヘルプデスクに移行を依頼してください。',
  errorHostnameRules: 'このホスト名はマシン証明書に使えません。会社のドメインでのコンピューターの完全な名前を使うか、どの名前を使うか IT ヘルプデスクに問い合わせてください。',
  errorBusy: 'このデバイスの別の登録が進行中です。少し待ってからもう一度お試しください。',
  errorNotYours: 'これはあなたのデバイスではありません。デバイスのページに戻ってもう一度お試しください。',
  errorNotAllowed: 'この操作は許可されていません。もう一度サインインしてください。繰り返し起きる場合は IT ヘルプデスクに問い合わせてください。',
  errorGeneric: '処理できませんでした。もう一度お試しください。繰り返し失敗する場合は、時刻を添えて IT ヘルプデスクに連絡してください。',
}

const messages: Record<Lang, Record<MessageKey, string>> = { en, ja }

/** A message in the language, with {name} placeholders filled (values are escaped by the caller's template). */
export function translate(lang: Lang, key: MessageKey, params: Record<string, string | number> = {}): string {
  return fillPlaceholders(messages[lang][key], params)
}

/** Keys that come as a pair `<base>_one` / `<base>_other`: a count's plural form picks one. */
export type CountedKey = { [K in MessageKey]: K extends `${infer Base}_one` ? Base : never }[MessageKey]

/**
 * A message about `count` things in its plural form (CLDR rules through
 * Intl.PluralRules: English has one/other, Japanese only other), with
 * {count} and the other placeholders filled.
 */
export function translateCount(lang: Lang, key: CountedKey, count: number, params: Record<string, string | number> = {}): string {
  const form = new Intl.PluralRules(lang).select(count) === 'one' ? 'one' : 'other'
  return translate(lang, `${key}_${form}`, { ...params, count })
}

/** A message with its {name} placeholders filled (an unknown name stays as it is). */
export function fillPlaceholders(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`))
}
