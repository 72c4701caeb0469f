//! The shim over libpam: the exported `pam_sm_*` entry points, the conversation, items and
//! `pam_syslog`. The only `unsafe` code of the workspace; everything it does is hand over to
//! [`crate::authenticate`] through the [`Conversation`] trait.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::path::Path;
use std::ptr;

use zeroize::Zeroizing;

use crate::{Config, Conversation, Item, Level, Verdict, client::HttpGateway};

const PAM_SUCCESS: c_int = 0;
const PAM_AUTH_ERR: c_int = 7;
const PAM_SERVICE: c_int = 1;
const PAM_TTY: c_int = 3;
const PAM_RHOST: c_int = 4;
const PAM_CONV: c_int = 5;
const PAM_PROMPT_ECHO_OFF: c_int = 1;
const PAM_PROMPT_ECHO_ON: c_int = 2;
const PAM_ERROR_MSG: c_int = 3;
const PAM_TEXT_INFO: c_int = 4;
const LOG_ALERT: c_int = 1;
const LOG_ERR: c_int = 3;
const LOG_NOTICE: c_int = 5;
const LOG_INFO: c_int = 6;

/// Opaque `pam_handle_t`.
#[repr(C)]
pub struct PamHandle {
    _private: [u8; 0],
}

#[repr(C)]
struct PamMessage {
    msg_style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    resp_retcode: c_int,
}

type ConvFn = unsafe extern "C" fn(
    c_int,
    *mut *const PamMessage,
    *mut *mut PamResponse,
    *mut c_void,
) -> c_int;

#[repr(C)]
struct PamConv {
    conv: Option<ConvFn>,
    appdata_ptr: *mut c_void,
}

#[link(name = "pam")]
unsafe extern "C" {
    fn pam_get_user(pamh: *mut PamHandle, user: *mut *const c_char, prompt: *const c_char)
    -> c_int;
    fn pam_get_item(pamh: *const PamHandle, item_type: c_int, item: *mut *const c_void) -> c_int;
    fn pam_syslog(pamh: *const PamHandle, priority: c_int, fmt: *const c_char, ...);
}

unsafe extern "C" {
    fn free(p: *mut c_void);
}

struct Handle(*mut PamHandle);

impl Handle {
    fn string_item(&self, item_type: c_int) -> Option<String> {
        let mut p: *const c_void = ptr::null();
        // SAFETY: libpam writes a pointer it owns (or null) into `p`; it stays valid while
        // the handle lives, and is only read here.
        let rc = unsafe { pam_get_item(self.0, item_type, &mut p) };
        if rc != PAM_SUCCESS || p.is_null() {
            return None;
        }
        // SAFETY: string items are NUL-terminated C strings.
        let s = unsafe { CStr::from_ptr(p.cast::<c_char>()) };
        Some(s.to_string_lossy().into_owned())
    }

    /// One message through the application's conversation function.
    fn converse(&self, style: c_int, text: &str) -> Result<Option<Zeroizing<String>>, String> {
        let mut p: *const c_void = ptr::null();
        // SAFETY: as in `string_item`; PAM_CONV is a `struct pam_conv`.
        let rc = unsafe { pam_get_item(self.0, PAM_CONV, &mut p) };
        if rc != PAM_SUCCESS || p.is_null() {
            return Err("no PAM conversation".into());
        }
        // SAFETY: libpam stores a `struct pam_conv` under PAM_CONV.
        let conv = unsafe { &*p.cast::<PamConv>() };
        let Some(f) = conv.conv else {
            return Err("no PAM conversation function".into());
        };
        let c_text = CString::new(text.replace('\0', "")).map_err(|e| e.to_string())?;
        let msg = PamMessage {
            msg_style: style,
            msg: c_text.as_ptr(),
        };
        let mut msgs: [*const PamMessage; 1] = [&msg];
        let mut resp: *mut PamResponse = ptr::null_mut();
        // SAFETY: one valid message; the application allocates the response array with
        // malloc (or leaves it null), which is freed below.
        let rc = unsafe { f(1, msgs.as_mut_ptr(), &mut resp, conv.appdata_ptr) };
        if resp.is_null() {
            return if rc == PAM_SUCCESS {
                Ok(None)
            } else {
                Err(format!("conversation failed ({rc})"))
            };
        }
        // SAFETY: `resp` points at one `pam_response`; its `resp` string, if any, is a
        // malloc'd NUL-terminated string that we own now. It is wiped before it is freed.
        let answer = unsafe {
            let r = &mut *resp;
            let out = if r.resp.is_null() {
                None
            } else {
                let s = Zeroizing::new(CStr::from_ptr(r.resp).to_string_lossy().into_owned());
                let len = CStr::from_ptr(r.resp).to_bytes().len();
                ptr::write_bytes(r.resp, 0, len);
                free(r.resp.cast());
                Some(s)
            };
            free(resp.cast());
            out
        };
        if rc != PAM_SUCCESS {
            return Err(format!("conversation failed ({rc})"));
        }
        Ok(answer)
    }
}

impl Conversation for Handle {
    fn user(&mut self) -> Result<String, String> {
        let mut p: *const c_char = ptr::null();
        // SAFETY: libpam writes a pointer to a string it owns into `p`.
        let rc = unsafe { pam_get_user(self.0, &mut p, ptr::null()) };
        if rc != PAM_SUCCESS || p.is_null() {
            return Err(format!("pam_get_user failed ({rc})"));
        }
        // SAFETY: a NUL-terminated string owned by libpam.
        Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    fn item(&self, item: Item) -> Option<String> {
        self.string_item(match item {
            Item::Service => PAM_SERVICE,
            Item::RHost => PAM_RHOST,
            Item::Tty => PAM_TTY,
        })
    }

    fn ask(&mut self, prompt: &str, echo: bool) -> Result<Zeroizing<String>, String> {
        let style = if echo {
            PAM_PROMPT_ECHO_ON
        } else {
            PAM_PROMPT_ECHO_OFF
        };
        self.converse(style, prompt)?
            .ok_or_else(|| "no answer".to_owned())
    }

    fn tell(&mut self, text: &str, error: bool) {
        let style = if error { PAM_ERROR_MSG } else { PAM_TEXT_INFO };
        let _ = self.converse(style, text);
    }

    fn log(&self, level: Level, text: &str) {
        let priority = match level {
            Level::Alert => LOG_ALERT,
            Level::Err => LOG_ERR,
            Level::Notice => LOG_NOTICE,
            Level::Info => LOG_INFO,
        };
        let Ok(c_text) = CString::new(text.replace('\0', "")) else {
            return;
        };
        // SAFETY: a constant "%s" format with one C string argument.
        unsafe { pam_syslog(self.0, priority, c"%s".as_ptr(), c_text.as_ptr()) };
    }
}

/// The module arguments of the stack line (`config=/path`).
fn args(argc: c_int, argv: *const *const c_char) -> Vec<String> {
    if argv.is_null() || argc <= 0 {
        return Vec::new();
    }
    (0..argc as usize)
        .filter_map(|i| {
            // SAFETY: libpam passes `argc` NUL-terminated strings.
            let p = unsafe { *argv.add(i) };
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        })
        .collect()
}

fn config_path(args: &[String]) -> &str {
    args.iter()
        .find_map(|a| a.strip_prefix("config="))
        .unwrap_or(crate::config::DEFAULT_PATH)
}

// The edge where the time is read once and passed to the logic as an argument.
#[allow(clippy::disallowed_methods)]
fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn run(handle: &mut Handle, args: &[String]) -> Verdict {
    let config = match Config::load(Path::new(config_path(args)), 0) {
        Ok(c) => c,
        Err(e) => {
            handle.log(Level::Err, &format!("sekimori: denied: configuration: {e}"));
            handle.tell(
                "認証サービスの設定に誤りがあります。 / The sign-in service is misconfigured.",
                true,
            );
            return Verdict::Deny;
        }
    };
    let gateway = match HttpGateway::new(&config) {
        Ok(g) => g,
        Err(e) => {
            handle.log(Level::Err, &format!("sekimori: denied: {e}"));
            return Verdict::Deny;
        }
    };
    crate::authenticate(handle, &gateway, &config, now_unix())
}

fn break_glass(handle: &mut Handle, args: &[String]) {
    let config = Config::load(Path::new(config_path(args)), 0);
    if let Err(e) = &config {
        handle.log(Level::Err, &format!("sekimori: configuration: {e}"));
    }
    let config = config.ok();
    let gateway = config.as_ref().and_then(|c| HttpGateway::new(c).ok());
    crate::report_break_glass(
        handle,
        gateway.as_ref().map(|g| g as &dyn crate::Gateway),
        config.as_ref(),
        now_unix(),
    );
}

/// # Safety
/// Called by libpam with a valid handle and `argc` argument strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_authenticate(
    pamh: *mut PamHandle,
    _flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    if pamh.is_null() {
        return PAM_AUTH_ERR;
    }
    let args = args(argc, argv);
    // A panic must not cross into C; it is a denial like any other failure.
    let verdict = std::panic::catch_unwind(move || run(&mut Handle(pamh), &args));
    match verdict {
        Ok(Verdict::Allow) => PAM_SUCCESS,
        _ => PAM_AUTH_ERR,
    }
}

/// Nothing to set: the module holds no credentials for the session.
///
/// # Safety
/// Called by libpam.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_setcred(
    _pamh: *mut PamHandle,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    PAM_SUCCESS
}

/// With the `break_glass` argument: report the session of the emergency account (the stack
/// runs this line only for it). Always succeeds, whatever the gateway answers.
///
/// # Safety
/// Called by libpam with a valid handle and `argc` argument strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_open_session(
    pamh: *mut PamHandle,
    _flags: c_int,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    if pamh.is_null() {
        return PAM_SUCCESS;
    }
    let args = args(argc, argv);
    if args.iter().any(|a| a == "break_glass") {
        let _ = std::panic::catch_unwind(move || break_glass(&mut Handle(pamh), &args));
    }
    PAM_SUCCESS
}

/// # Safety
/// Called by libpam.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pam_sm_close_session(
    _pamh: *mut PamHandle,
    _flags: c_int,
    _argc: c_int,
    _argv: *const *const c_char,
) -> c_int {
    PAM_SUCCESS
}
