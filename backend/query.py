"""One answer to an unknown query parameter, for every operation of the API.

A view names the query parameters each of its methods takes (`query_parameters`, the same
names its OpenAPI operation documents; tests/backend/test_lists.py checks they agree).
Anything else in the query string answers 400 `unknown_parameter`: a misspelt filter
(`?kinds=`, `?page=`) must not answer the whole list as if it had been applied, and a client
made by a generator learns of the mistake at once. The check goes with the address, before
sign-in and before any write, as an unknown path would.

The answer lists the parameters the operation takes and, for a name close to one of them,
says which ("Did you mean 'limit'?"); it never repeats the name sent. A query string is the
client's text, and errors never echo it (tests/leakscan plants a canary as a parameter name).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from difflib import get_close_matches
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework import serializers
from rest_framework.views import APIView

from backend.errors import problem_response
from backend.problem_codes import ProblemCode

Handler = Callable[[HttpRequest], HttpResponse]

# Views of these packages are the API (drf-spectacular's schema views take their own).
API_PACKAGES = frozenset({"backend", "journal", "integration"})

# The key of `errors` for the query string as a whole.
QUERY_ERRORS_KEY = "query"


def query_names(*serializers_or_names: type[serializers.Serializer[Any]] | str) -> tuple[str, ...]:
    """The parameter names of filter serializers (their fields) and single names, as a
    view's `query_parameters` lists them."""
    names: list[str] = []
    for item in serializers_or_names:
        if isinstance(item, str):
            names.append(item)
        else:
            names.extend(item().fields)
    return tuple(dict.fromkeys(names))


def accepted_query_parameters(view_class: type[Any], method: str) -> frozenset[str]:
    """What a view's method takes in its query string (HEAD as GET)."""
    method = method.lower()
    if method == "head":
        method = "get"
    declared: Mapping[str, Collection[str]] = getattr(view_class, "query_parameters", {})
    return frozenset(declared.get(method, ()))


def is_api_view(view_class: type[Any] | None) -> bool:
    return (
        isinstance(view_class, type)
        and issubclass(view_class, APIView)
        and view_class.__module__.split(".", 1)[0] in API_PACKAGES
    )


def unknown_parameter_response(unknown: Collection[str], accepted: Collection[str]) -> HttpResponse:
    listed = ", ".join(f"'{name}'" for name in sorted(accepted)) or "none"
    count = "A parameter" if len(unknown) == 1 else f"{len(unknown)} parameters"
    message = f"{count} this operation does not take. Accepted: {listed}."
    suggestions = sorted(
        {match for name in unknown for match in get_close_matches(name, list(accepted), n=1)}
    )
    if suggestions:
        message += " Did you mean " + " or ".join(f"'{name}'" for name in suggestions) + "?"
    return problem_response(
        400,
        code=ProblemCode.UNKNOWN_PARAMETER,
        detail="The query string holds a parameter this operation does not take: see 'errors'.",
        errors={QUERY_ERRORS_KEY: [message]},
    )


class UnknownQueryParameterMiddleware:
    """Answers 400 `unknown_parameter` for a query parameter the API view does not take."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: Any,
        view_kwargs: Any,
    ) -> HttpResponse | None:
        if not request.GET:
            return None
        view_class = getattr(view_func, "cls", None)
        if view_class is None or not is_api_view(view_class):
            return None
        accepted = accepted_query_parameters(view_class, str(request.method))
        unknown = set(request.GET) - accepted
        if not unknown:
            return None
        return unknown_parameter_response(unknown, accepted)
