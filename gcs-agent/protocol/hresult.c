/* SPDX-License-Identifier: MIT */
#include "hresult.h"

#include <errno.h>

#include "bridge.h"

int32_t hresult_from_errno(int r)
{
	switch (r < 0 ? -r : r) {
	case 0: return HR_OK;
	case EBADMSG: return HR_INVALID_JSON;
	case ESRCH: return HR_SYSTEM_NOT_FOUND;
	case EEXIST: return HR_ALREADY_EXISTS;
	case EPROTONOSUPPORT: return HR_UNSUPPORTED_PROTOCOL;
	case ENOSYS:
	case EOPNOTSUPP: return HR_NOTIMPL;
	case ENOENT: return HR_NOT_FOUND;
	case EINVAL: return HR_INVALIDARG;
	case ETIMEDOUT: return HR_TIMEOUT;
	case EALREADY: return HR_ALREADY_STOPPED;
	case EBADFD: return HR_INVALID_STATE;
	default: return HR_FAIL;
	}
}

const char *hresult_name(int32_t hr)
{
	switch (hr) {
	case HR_OK: return "S_OK";
	case HR_NOTIMPL: return "E_NOTIMPL";
	case HR_FAIL: return "E_FAIL";
	case HR_NOT_FOUND: return "ERROR_NOT_FOUND";
	case HR_INVALIDARG: return "E_INVALIDARG";
	case HR_INVALID_JSON: return "HCS_E_INVALID_JSON";
	case HR_SYSTEM_NOT_FOUND: return "HCS_E_SYSTEM_NOT_FOUND";
	case HR_ALREADY_EXISTS: return "HCS_E_SYSTEM_ALREADY_EXISTS";
	case HR_UNSUPPORTED_PROTOCOL: return "HCS_E_UNSUPPORTED_PROTOCOL_VERSION";
	case HR_UNKNOWN_MESSAGE: return "HCS_E_UNKNOWN_MESSAGE";
	case HR_INVALID_STATE: return "HCS_E_INVALID_STATE";
	case HR_ALREADY_STOPPED: return "HCS_E_SYSTEM_ALREADY_STOPPED";
	case HR_TIMEOUT: return "HCS_E_TIMEOUT";
	default: return NULL;
	}
}
