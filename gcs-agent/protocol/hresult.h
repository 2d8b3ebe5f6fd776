/* SPDX-License-Identifier: MIT */
/*
 * From the agent's errno convention to the HRESULT a response carries.
 *
 * Code below the dispatcher returns negative errnos; a few of them are
 * reserved to mean a specific protocol outcome, so a runtime function can
 * say "no such container" without knowing about HRESULTs:
 *
 *   -EBADMSG          0xC037010D  invalid JSON / schema
 *   -ESRCH            0xC037010E  container (compute system) not found
 *   -EEXIST           0xC037010F  already exists
 *   -EPROTONOSUPPORT  0xC037010C  unsupported protocol version
 *   -ENOSYS           0x80004001  not implemented
 *   -EOPNOTSUPP       0x80004001  not implemented
 *   -ENOENT           0x80070490  not found (e.g. no such process)
 *   -EINVAL           0x80070057  invalid argument
 *   -ETIMEDOUT        0xC0370109  timeout
 *   -EALREADY         0xC0370110  already stopped
 *   -EBADFD           0x80370105  invalid state
 *   anything else     0x80004005  generic failure
 *
 * A handler that needs another HRESULT sets it explicitly.
 */
#ifndef GCS_PROTOCOL_HRESULT_H
#define GCS_PROTOCOL_HRESULT_H

#include <stdint.h>

int32_t hresult_from_errno(int r);

/* "E_NOTIMPL", "HCS_E_INVALID_JSON", ... or NULL. */
const char *hresult_name(int32_t hr);

#endif
