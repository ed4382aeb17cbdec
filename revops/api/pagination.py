from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M` (up to 500); responses carry count, next and previous."""

    page_size_query_param = "page_size"
    max_page_size = 500
