"""A small Django 5.2 app with sentry-sdk's DjangoIntegration, for
tests/e2e/run.sh: `python django_app.py DSN runserver 127.0.0.1:PORT --noreload`.
Its /checkout/ view raises; send_default_pii is on, so the SDK sends the
cookies, headers and form body as they are, and Watchpost must scrub them."""
import sys

import django
import sentry_sdk
from django.conf import settings
from django.urls import path
from sentry_sdk.integrations.django import DjangoIntegration

DSN = sys.argv.pop(1)

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["127.0.0.1"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="e2e-only-not-a-secret-0123456789abcdef",
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    DATABASES={},
)

sentry_sdk.init(
    dsn=DSN,
    http_proxy="",
    integrations=[DjangoIntegration()],
    environment="e2e",
    release="django-shop@2.0.0",
    send_default_pii=True,
    traces_sample_rate=1.0,
)


def checkout(request):
    quantity = int(request.POST.get("qty", "0"))
    return 100 / (quantity - quantity)


urlpatterns = [path("checkout/", checkout)]

if __name__ == "__main__":
    django.setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line([sys.argv[0]] + sys.argv[1:])
