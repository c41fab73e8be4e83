/**
 * The download page's copy in the browser tab that enrolled: the bundle (a
 * data: URL) and the one-time password in sessionStorage under this key, so
 * the page survives reload, Back and the language switch without kagi
 * keeping either (ready-view.ts writes and reads it).
 */
export const READY_STORAGE_KEY = 'kagi-ready'

/** Script for the signed-out page: signing out (or a session that ended) drops the tab's copy too. */
export const forgetReadyScript = `try{sessionStorage.removeItem('${READY_STORAGE_KEY}')}catch(e){}`
