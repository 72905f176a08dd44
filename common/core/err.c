/* Messages and HTTP statuses for enum ch_err. */
#include "core/err.h"

const char *
ch_strerror(enum ch_err err)
{
	switch (err) {
	case CH_OK: return "ok";
	case CH_ERR_NOMEM: return "out of memory";
	case CH_ERR_NOT_FOUND: return "not found";
	case CH_ERR_METHOD: return "method not allowed";
	case CH_ERR_TOO_LARGE: return "request body too large";
	case CH_ERR_MEDIA_TYPE: return "unsupported content type";
	case CH_ERR_UNAUTHORIZED: return "unauthorized";
	case CH_ERR_BAD_REQUEST: return "bad request";
	case CH_ERR_BAD_BODY: return "malformed body";
	case CH_ERR_DB: return "database error";
	case CH_ERR_DB_DOWN: return "database unreachable";
	case CH_ERR_UNAVAILABLE: return "service unavailable";
	case CH_ERR_CONFIG: return "invalid configuration";
	case CH_ERR_SYSTEM: return "system error";
	}
	return "unknown error";
}

/* The only place an error becomes an HTTP status. */
int
ch_err_http_status(enum ch_err err)
{
	switch (err) {
	case CH_OK: return 200;
	case CH_ERR_NOT_FOUND: return 404;
	case CH_ERR_METHOD: return 405;
	case CH_ERR_TOO_LARGE: return 413;
	case CH_ERR_MEDIA_TYPE: return 415;
	case CH_ERR_UNAUTHORIZED: return 401;
	case CH_ERR_BAD_REQUEST:
	case CH_ERR_BAD_BODY: return 400;
	case CH_ERR_DB_DOWN:
	case CH_ERR_UNAVAILABLE: return 503;
	case CH_ERR_NOMEM:
	case CH_ERR_DB:
	case CH_ERR_CONFIG:
	case CH_ERR_SYSTEM: return 500;
	}
	return 500;
}
