from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from providers import routing
from providers.serializers import PredictionSerializer, PredictQuerySerializer


class PredictView(APIView):
    """Which operator a number belongs to, from its prefix (a number may have been ported)."""

    query_serializer = PredictQuerySerializer

    @extend_schema(responses=PredictionSerializer)
    def get(self, request: Request) -> Response:
        query = PredictQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        msisdn = query.validated_data["msisdn"]
        prediction = {"msisdn": msisdn, "provider": routing.route_msisdn(msisdn)}
        return Response(PredictionSerializer(prediction).data)
